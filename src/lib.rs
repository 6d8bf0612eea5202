//! ihf-webhooks: captures inserts into the framework database's source tables
//! and delivers them as signed Standard Webhooks, with a small `/api/v2` for
//! consumers to manage their subscriptions.
//!
//! Layout: [`config`] (environment), [`db`] (pools, SQL from `sql/`),
//! [`migrate`], [`listener`] (the NOTIFY doorbell), [`delivery`] (the worker),
//! [`signing`], [`ssrf`], [`keys`], [`consumers`], [`events`], [`limits`]
//! (rate limit and quota), [`request_log`], [`api`] (HTTP),
//! [`app`] (startup), [`cli`].

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod consumers;
pub mod db;
pub mod delivery;
pub mod events;
pub mod keys;
pub mod limits;
pub mod listener;
pub mod migrate;
pub mod request_log;
pub mod signing;
pub mod ssrf;
pub mod telemetry;
