//! Claim: lease due jobs that wait for a replica (what fan-out had no room to
//! lease, retries, released and expired leases, redeliveries) for the free
//! slots, within the per-subscription and per-consumer caps
//! (`sql/jobs_claim_due.sql`). The statement visits only subscriptions with
//! waiting jobs, starting at a random point, so its cost does not grow with
//! idle subscriptions and no subscription is always served first.

use deadpool_postgres::Client;
use uuid::Uuid;

use super::attempt::ClaimedJob;
use super::in_flight::InFlight;
use crate::db::sql;

/// What this replica asks for.
pub struct Ask {
    /// Jobs to claim at most (room in flight and on deck).
    pub slots: i64,
    pub lease_ms: i64,
    pub replica: Uuid,
    per_subscription: i64,
    per_consumer: i64,
    busy_subscriptions: serde_json::Value,
    busy_consumers: serde_json::Value,
}

impl Ask {
    /// Snapshots the counts (the lock is not held across the statement).
    pub fn new(slots: i64, lease_ms: i64, replica: Uuid, in_flight: &InFlight) -> Ask {
        let caps = in_flight.lease_caps();
        let (busy_subscriptions, busy_consumers) = in_flight.as_json();
        Ask {
            slots,
            lease_ms,
            replica,
            per_subscription: caps.per_subscription.into(),
            per_consumer: caps.per_consumer.into(),
            busy_subscriptions,
            busy_consumers,
        }
    }
}

/// Claims up to `ask.slots` due jobs.
pub async fn claim(client: &Client, ask: &Ask) -> anyhow::Result<Vec<ClaimedJob>> {
    let stmt = client.prepare_cached(sql::JOBS_CLAIM_DUE).await?;
    let start = Uuid::new_v4();
    let rows = client
        .query(
            &stmt,
            &[
                &ask.slots,
                &ask.lease_ms,
                &ask.replica,
                &ask.per_subscription,
                &ask.busy_subscriptions,
                &ask.per_consumer,
                &ask.busy_consumers,
                &start,
            ],
        )
        .await?;
    Ok(rows.iter().map(ClaimedJob::from_row).collect())
}

/// Hands leased jobs back unattempted (attempt numbers fence it), e.g. the
/// excess over a consumer's cap when one claim took from several of its
/// subscriptions.
pub async fn release(client: &Client, jobs: &[(i64, i32)]) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    // Sorted by id: the statement finds each job's fence by binary search.
    let mut jobs = jobs.to_vec();
    jobs.sort_unstable();
    let (ids, fences): (Vec<i64>, Vec<i32>) = jobs.into_iter().unzip();
    let stmt = client.prepare_cached(sql::JOBS_RELEASE).await?;
    client.execute(&stmt, &[&ids, &fences]).await?;
    Ok(())
}

/// Hands expired leases back to the waiting jobs; returns how many.
pub async fn expire_leases(client: &Client) -> anyhow::Result<u64> {
    let stmt = client.prepare_cached(sql::JOBS_EXPIRE_LEASES).await?;
    Ok(client.execute(&stmt, &[]).await?)
}
