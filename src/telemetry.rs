//! Logging: `tracing` to stderr, human-readable or JSON (`IHF_LOG_FORMAT=json`),
//! filtered by `RUST_LOG` (default `info`).
//!
//! Whatever `RUST_LOG` says, tokio-postgres and hyper are held at `info`:
//! tokio-postgres logs statement parameters at debug (webhook secrets, key
//! hashes), and secrets never reach the logs. The ceiling is a filter of its
//! own, applied after the operator's, so no directive in `RUST_LOG` (however
//! specific, e.g. `tokio_postgres::query=debug`) can lift it.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

/// Crates held at `info` at most, with every module below them.
const CEILINGS: [&str; 3] = ["tokio_postgres", "hyper", "hyper_util"];

/// The operator's filter (`RUST_LOG`, default `info`).
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The ceiling: everything passes except the crates above beneath `info`.
/// `Targets` matches by prefix, so `tokio_postgres::query` is capped too.
pub fn ceiling() -> Targets {
    CEILINGS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, name| targets.with_target(*name, LevelFilter::INFO),
    )
}

/// `layer` behind the operator's `filter` and then the ceiling.
pub fn capped<L>(
    layer: L,
    filter: EnvFilter,
) -> Filtered<Filtered<L, EnvFilter, Registry>, Targets, Registry>
where
    L: Layer<Registry>,
{
    layer.with_filter(filter).with_filter(ceiling())
}

pub fn init(json: bool) {
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(capped(layer, filter()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_specific_rust_log_directive_cannot_lift_the_tokio_postgres_ceiling() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone());
        let filter = EnvFilter::new("info,tokio_postgres::query=debug,ihf_webhooks=debug");
        let subscriber = tracing_subscriber::registry().with(capped(layer, filter));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::query", "executing statement with parameters whsec_leak");
            tracing::debug!(target: "hyper::proto", "hyper detail");
            tracing::info!(target: "tokio_postgres::connection", "connection info");
            tracing::debug!(target: "ihf_webhooks::app", "our own debug line");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(!out.contains("whsec_leak"), "{out}");
        assert!(!out.contains("hyper detail"), "{out}");
        assert!(out.contains("connection info"), "{out}");
        assert!(out.contains("our own debug line"), "{out}");
    }
}
