//! Fan-out: turns captured events (`ihf_outbox`) into one job per active
//! subscription, and leases to this replica as many of the new jobs as it has
//! room for (in flight or on deck, see [`super::in_flight`]), so they start
//! without being claimed again (one statement per batch instead of two; see
//! `sql/outbox_fan_out.sql`). Events
//! that cannot start now are kept back in the outbox for a moment
//! ([`super::keep_back`]).

use deadpool_postgres::Client;
use uuid::Uuid;

use super::attempt::ClaimedJob;
use super::in_flight::InFlight;
use crate::db::sql;

/// What this replica can take on right now.
pub struct Room {
    /// Jobs to lease at most (room in flight and on deck).
    pub slots: i64,
    pub lease_ms: i64,
    pub replica: Uuid,
    per_subscription: i64,
    per_consumer: i64,
    /// Subscriptions and consumers with jobs leased here (in flight or on
    /// deck), and how many; the caps above are the lease caps.
    busy_subscriptions: (Vec<Uuid>, Vec<i32>),
    busy_consumers: (Vec<Uuid>, Vec<i32>),
}

impl Room {
    /// Snapshots the counts (the lock is not held across the statement).
    pub fn new(slots: i64, lease_ms: i64, replica: Uuid, in_flight: &InFlight) -> Room {
        let caps = in_flight.lease_caps();
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
    /// Events looked at: fewer than asked for when the outbox had no more.
    pub looked_at: i64,
    /// Events taken from the outbox (an event nobody subscribes to makes no job).
    pub events: i64,
    /// The outbox sequence numbers of the first and last event kept back.
    pub kept: Option<(i64, i64)>,
    /// Jobs created, leased or not.
    pub jobs: i64,
    /// The jobs leased to this replica, to start now.
    pub leased: Vec<ClaimedJob>,
}

/// Looks at up to `events` events and fans out those whose jobs all start
/// now, or all of them when `take_all`.
pub async fn fan_out(
    client: &Client,
    events: i64,
    room: &Room,
    take_all: bool,
) -> anyhow::Result<Batch> {
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
                &take_all,
            ],
        )
        .await?;
    let Some(first) = rows.first() else {
        anyhow::bail!("fan-out returned no row of counts");
    };
    let (looked_at, events, jobs) = (
        first.get("looked_at"),
        first.get("events"),
        first.get("jobs"),
    );
    let kept = first
        .get::<_, Option<i64>>("first_kept")
        .zip(first.get::<_, Option<i64>>("last_kept"));
    let leased = rows
        .iter()
        .filter(|row| row.get::<_, Option<i64>>("id").is_some())
        .map(ClaimedJob::from_row)
        .collect();
    Ok(Batch {
        looked_at,
        events,
        kept,
        jobs,
        leased,
    })
}
