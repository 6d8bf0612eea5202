//! Logging: `tracing` to stderr, human-readable or JSON (`IHF_LOG_FORMAT=json`),
//! filtered by `RUST_LOG` (default `info`). Text logs are coloured only when
//! stderr is a terminal (and `NO_COLOR` is unset): container logs and files
//! get plain text.
//!
//! Whatever `RUST_LOG` says, tokio-postgres and hyper are held at `info`:
//! tokio-postgres logs statement parameters at debug (webhook secrets, key
//! hashes), and secrets never reach the logs.

use std::io::IsTerminal;

use tracing_subscriber::filter::Directive;
use tracing_subscriber::EnvFilter;

const CEILINGS: [&str; 3] = ["tokio_postgres=info", "hyper=info", "hyper_util=info"];

/// Our own events' target, to tell whether a filter leaves them on.
const OWN_TARGET: &str = "ihf_webhooks";

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("RUST_LOG: {value:?} is not a log filter ({reason}); use a level (error, warn, info, debug, trace, off) or target=level pairs, e.g. \"info,hyper=debug\"")]
    Invalid { value: String, reason: String },
    #[error("RUST_LOG: {value:?} turns off the service's own logs, errors included (a bare word is a target name, not a level); add a level, e.g. \"warn,{value}\", or say \"off\"")]
    SilencesService { value: String },
}

/// The filter `RUST_LOG` asks for (unset or empty: `info`), with the ceilings.
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
    let mut filter = parse()?;
    for ceiling in CEILINGS {
        let directive: Directive = ceiling.parse().expect("valid directive");
        filter = filter.add_directive(directive);
    }
    Ok(filter)
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

/// Installs the global subscriber; fails only on a bad `RUST_LOG`.
pub fn init(json: bool) -> Result<(), FilterError> {
    let filter = filter_from(std::env::var("RUST_LOG").ok().as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        builder.with_ansi(colour).try_init()
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
