//! Logging: `tracing` to stderr, human-readable or JSON (`IHF_LOG_FORMAT=json`),
//! filtered by `RUST_LOG` (default `info`).
//!
//! Whatever `RUST_LOG` says, tokio-postgres and hyper are held at `info`:
//! tokio-postgres logs statement parameters at debug (webhook secrets, key
//! hashes), and secrets never reach the logs.

use tracing_subscriber::filter::Directive;
use tracing_subscriber::EnvFilter;

const CEILINGS: [&str; 3] = ["tokio_postgres=info", "hyper=info", "hyper_util=info"];

pub fn filter() -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for ceiling in CEILINGS {
        let directive: Directive = ceiling.parse().expect("valid directive");
        filter = filter.add_directive(directive);
    }
    filter
}

pub fn init(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
