//! Logging: `tracing` to stderr, human-readable or JSON (`IHF_LOG_FORMAT=json`),
//! filtered by `RUST_LOG` (default `info`). Text logs are coloured only when
//! stderr is a terminal (and `NO_COLOR` is unset): container logs and files
//! get plain text.
//!
//! Whatever `RUST_LOG` says, tokio-postgres and hyper are held at `info`:
//! tokio-postgres logs statement parameters at debug (webhook secrets, key
//! hashes), and secrets never reach the logs. The ceiling is a filter of its
//! own, applied after the operator's, so no directive in `RUST_LOG` (however
//! specific, e.g. `tokio_postgres::query=debug`) can lift it.

use std::io::IsTerminal;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

/// Crates held at `info` at most, with every module below them.
const CEILINGS: [&str; 3] = ["tokio_postgres", "hyper", "hyper_util"];

/// Our own events' target, to tell whether a filter leaves them on.
const OWN_TARGET: &str = "ihf_webhooks";

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("RUST_LOG: {value:?} is not a log filter ({reason}); use a level (error, warn, info, debug, trace, off) or target=level pairs, e.g. \"info,hyper=debug\"")]
    Invalid { value: String, reason: String },
    #[error("RUST_LOG: {value:?} turns off the service's own logs, errors included (a bare word is a target name, not a level); add a level, e.g. \"warn,{value}\", or say \"off\"")]
    SilencesService { value: String },
}

/// The operator's filter: what `RUST_LOG` asks for (unset or empty: `info`).
/// A value that does not parse, or that silently turns off even the service's
/// own errors (`RUST_LOG=garbage` names a target, so everything else is off),
/// is an error naming the variable; `off` on purpose is accepted.
pub fn filter_from(value: Option<&str>) -> Result<EnvFilter, FilterError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    let text = value.unwrap_or("info");
    let parse = || {
        EnvFilter::builder()
            .parse(text)
            .map_err(|e| FilterError::Invalid {
                value: text.to_string(),
                reason: e.to_string(),
            })
    };
    let probe = parse()?;
    let says_off = text
        .split(',')
        .any(|d| d.trim().eq_ignore_ascii_case("off"));
    if !says_off && !enables_own_errors(probe) {
        return Err(FilterError::SilencesService {
            value: text.to_string(),
        });
    }
    parse()
}

/// Would `filter` let an error event of ours through?
fn enables_own_errors(filter: EnvFilter) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(filter);
    tracing::subscriber::with_default(
        subscriber,
        || tracing::enabled!(target: OWN_TARGET, tracing::Level::ERROR),
    )
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

/// Installs the global subscriber; fails only on a bad `RUST_LOG`.
pub fn init(json: bool) -> Result<(), FilterError> {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref())?;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = if json {
        fmt.json().boxed()
    } else {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        fmt.with_ansi(colour).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(capped(layer, filter))
        .try_init();
    Ok(())
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

    #[test]
    fn log_filters_that_would_hide_the_service_are_refused_by_name() {
        for ok in [
            None,
            Some(""),
            Some("info"),
            Some("warn,hyper=debug"),
            Some("ihf_webhooks=debug"),
            Some("off"),
        ] {
            assert!(filter_from(ok).is_ok(), "{ok:?}");
        }
        let garbage = filter_from(Some("garbage")).unwrap_err().to_string();
        assert!(
            garbage.starts_with("RUST_LOG: \"garbage\" turns off"),
            "{garbage}"
        );
        let invalid = filter_from(Some("info,hyper=loud"))
            .unwrap_err()
            .to_string();
        assert!(
            invalid.starts_with("RUST_LOG: \"info,hyper=loud\" is not a log filter"),
            "{invalid}"
        );
    }
}
