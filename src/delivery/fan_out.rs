//! Fan-out: turns captured events (`ihf_outbox`) into one job per active
//! subscription, and leases to this replica as many of the new jobs as it has
//! free slots for, so they start at once instead of being claimed again (one
//! statement per batch instead of two; see `sql/outbox_fan_out.sql`).

use deadpool_postgres::Client;
use uuid::Uuid;

use super::attempt::ClaimedJob;
use super::in_flight::InFlight;
use crate::db::sql;

/// What this replica can take on right now.
pub struct Room {
    /// Jobs to lease at most (free slots).
    pub slots: i64,
    pub lease_ms: i64,
    pub replica: Uuid,
    per_subscription: i64,
    per_consumer: i64,
    /// Subscriptions and consumers with attempts in flight here, and how many.
    busy_subscriptions: (Vec<Uuid>, Vec<i32>),
    busy_consumers: (Vec<Uuid>, Vec<i32>),
}

impl Room {
    /// Snapshots the counts (the lock is not held across the statement).
    pub fn new(slots: i64, lease_ms: i64, replica: Uuid, in_flight: &InFlight) -> Room {
        let caps = in_flight.caps();
        Room {
            slots,
            lease_ms,
            replica,
            per_subscription: caps.per_subscription.into(),
            per_consumer: caps.per_consumer.into(),
            busy_subscriptions: in_flight.subscriptions(),
            busy_consumers: in_flight.consumers(),
        }
    }
}

pub struct Batch {
    /// Events taken from the outbox (an event nobody subscribes to makes no job).
    pub events: i64,
    /// Jobs created, leased or not.
    pub jobs: i64,
    /// The jobs leased to this replica, to start now.
    pub leased: Vec<ClaimedJob>,
}

/// Fans out up to `events` events.
pub async fn fan_out(client: &Client, events: i64, room: &Room) -> anyhow::Result<Batch> {
    let stmt = client.prepare_cached(sql::OUTBOX_FAN_OUT).await?;
    let rows = client
        .query(
            &stmt,
            &[
                &events,
                &room.slots,
                &room.lease_ms,
                &room.replica,
                &room.per_subscription,
                &room.busy_subscriptions.0,
                &room.busy_subscriptions.1,
                &room.per_consumer,
                &room.busy_consumers.0,
                &room.busy_consumers.1,
            ],
        )
        .await?;
    let Some(first) = rows.first() else {
        anyhow::bail!("fan-out returned no row of counts");
    };
    let (events, jobs) = (first.get("events"), first.get("jobs"));
    let leased = rows
        .iter()
        .filter(|row| row.get::<_, Option<i64>>("id").is_some())
        .map(ClaimedJob::from_row)
        .collect();
    Ok(Batch {
        events,
        jobs,
        leased,
    })
}
