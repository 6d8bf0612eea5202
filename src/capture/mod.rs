//! Capture: how an inserted framework row becomes an event the worker sees.
//!
//! The statement-level `AFTER INSERT` triggers on the six source tables copy
//! the new rows into `ihf_outbox` in the writer's own transaction (SQL, in
//! `migrations/`); here are the event types they produce ([`event_types`]) and
//! the [`doorbell`] that wakes an idle worker when they do.

pub mod doorbell;
pub mod event_types;
