//! ihf-webhooks: captures inserts into the framework database's source tables
//! and delivers them as signed Standard Webhooks, with a small `/api/v2` for
//! consumers to manage their subscriptions.
//!
//! Layout, by role:
//! - [`capture`]: the event types and the doorbell (the capture triggers
//!   themselves are SQL, in `migrations/`; `schema.sql` shows them as they run);
//! - [`delivery`]: the worker: fan-out, claim, sign, send (behind the SSRF
//!   guard) and record;
//! - [`access`]: who may call the API: keys, consumers, limits, request log;
//! - [`notify`]: operator notifications (a subscription failing, disabled,
//!   recovered; deliveries exhausted), with their own queue;
//! - [`api`]: the HTTP side, one module per resource, served by [`server`]
//!   (the accept loop with its timeouts and connection cap);
//! - [`db`]: pools, the SQL statements from `sql/`, migrations;
//! - [`logs`]: the two logs' partitions: made ahead, dropped past retention;
//! - [`cli`]: the command line, `healthcheck` and the `demo` tour;
//! - [`server`]: the HTTP server with its timeouts and connection cap;
//! - [`app`] (startup), [`config`] (environment), [`telemetry`] (logs) and
//!   [`metrics`] (Prometheus).

pub mod access;
pub mod api;
pub mod app;
pub mod capture;
pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod logs;
pub mod metrics;
pub mod notify;
pub(crate) mod server;
pub mod telemetry;
