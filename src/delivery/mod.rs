//! The delivery worker: fan-out → claim → sign and send → record.
//!
//! - [`fan_out`] turns captured events into jobs, waking on the doorbell or
//!   a short poll;
//! - [`dispatcher`] claims due jobs in batches for its free slots;
//! - [`attempt`] signs and sends one job and judges the answer ([`outcome`]);
//! - [`recorder`] writes the results in batches: one statement per batch ends
//!   or reschedules the jobs and appends to `webhook_deliveries`;
//! - [`client`] is the HTTP client with the SSRF-guarded resolver;
//! - [`janitor`] vacuums the queue tables.

pub mod attempt;
pub mod client;
pub mod dispatcher;
pub mod fan_out;
pub mod janitor;
pub mod outcome;
pub mod recorder;

pub use dispatcher::Worker;
