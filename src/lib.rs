//! ihf-webhooks: captures inserts into the framework database's source tables
//! and delivers them as signed Standard Webhooks, with a small `/api/v2` for
//! consumers to manage their subscriptions.
//!
//! Layout: [`config`] (environment), [`db`] (pools, SQL from `sql/`),
//! [`migrate`], [`listener`] (the NOTIFY doorbell), [`delivery`] (the worker),
//! [`signing`], [`ssrf`], [`keys`], [`consumers`], [`events`], [`limits`]
//! (rate limit and quota), [`request_log`], [`api`] (HTTP), [`metrics`],
//! [`app`] (startup), [`cli`], [`healthcheck`] and [`demo`] (the one-command
//! tour), [`loopback`] (a plain HTTP client for calling ourselves).

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod consumers;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod events;
pub mod healthcheck;
pub mod keys;
pub mod limits;
pub mod listener;
pub mod loopback;
pub mod metrics;
pub mod migrate;
pub mod request_log;
pub mod signing;
pub mod ssrf;
pub mod telemetry;
