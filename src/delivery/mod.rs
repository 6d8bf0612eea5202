//! The delivery worker: fan-out → claim → sign and send → record.
//!
//! - [`dispatcher`] runs the loop: fan out and claim for its free slots, start
//!   attempts, and when idle hold the doorbell and sleep until the NOTIFY or a
//!   short poll;
//! - [`fan_out`] turns captured events into jobs, leased at once to this
//!   replica as far as it has room, and gives each event its id ([`event_id`]);
//!   events that cannot start yet wait in the outbox a moment ([`keep_back`]);
//! - [`claim`] leases due jobs that wait for a replica (overflow, retries,
//!   expired leases) within the caps kept by [`in_flight`], which also keeps
//!   the leased jobs that wait on deck and starts the next one the moment an
//!   attempt ends;
//! - [`attempt`] signs and sends one job and judges the answer ([`outcome`]);
//! - [`recorder`] writes the results in batches: one statement per batch ends
//!   or reschedules the jobs and appends to `webhook_deliveries`;
//! - [`headers`] holds a subscription's custom headers, [`health`] records
//!   its last success and failure;
//! - [`signing`] signs with the subscription's secret (Standard Webhooks);
//! - [`client`] is the HTTP client with the SSRF-guarded resolver ([`ssrf`]);
//! - [`janitor`] vacuums the queue tables;
//! - [`queue_gauges`] samples the queue depth for `/metrics`.

pub(crate) mod attempt;
pub(crate) mod claim;
pub mod client;
pub(crate) mod dispatcher;
pub mod event_id;
pub(crate) mod fan_out;
pub(crate) mod headers;
pub(crate) mod health;
pub(crate) mod in_flight;
pub(crate) mod janitor;
pub(crate) mod keep_back;
pub(crate) mod outcome;
pub(crate) mod queue_gauges;
pub(crate) mod recorder;
pub mod signing;
pub mod ssrf;

pub use dispatcher::Worker;
