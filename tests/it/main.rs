//! Integration tests: real PostgreSQL (a fresh database per test), the service
//! on port 0, real HTTP receivers.

mod harness;

mod api_account;
mod api_admin;
mod api_dashboard;
mod api_deliveries;
mod api_limits;
mod api_openapi;
mod api_request_log;
mod api_token;
mod api_webhooks;
mod cli;
mod console_browser;
mod console_routes;
mod consumer_controls;
mod custom_headers;
mod delivery;
mod demo;
mod deploy;
mod faults;
mod hardening;
mod interop;
mod isolation;
mod log_rows;
mod observability;
mod operator;
mod process;
mod recover;
mod restart;
mod retention;
mod schema;
mod sdk;
