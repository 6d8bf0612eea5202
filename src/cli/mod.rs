//! The command line (README, "Command line"). Results go to stdout as one
//! JSON object, logs to stderr; a failure is one line on stderr and exit 1
//! (usage errors, which clap reports, exit 2).

pub(crate) mod demo;
pub(crate) mod healthcheck;
pub(crate) mod loopback;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::access::consumers::{self, NewConsumer};
use crate::access::keys::{self, Scopes};
use crate::access::sealing::{self, Sealer};
use crate::app::{App, Parts};
use crate::config::{parse_duration, Config};
use crate::db::{self, migrate};
use crate::telemetry;

/// The settings, for `--help` (the README's configuration table has them all
/// with their defaults).
const ENVIRONMENT: &str = "\
Environment (an invalid value stops startup naming the variable):
  DATABASE_URL                   PostgreSQL connection string (required, except for demo and healthcheck)
  IHF_LISTEN                     address of the HTTP side [default: 127.0.0.1:8080]
  IHF_MIGRATE_ON_START           true: serve runs migrate first [default: false]
  IHF_ALLOW_PRIVATE_TARGETS      true: allow loopback and private-range targets [default: false]
  IHF_ALLOW_HTTP_TARGETS         true: allow http:// targets [default: false]
  IHF_RETRY_SCHEDULE             delays before each retry [default: 5s,5m,30m,2h,5h,10h,10h]
  IHF_DELIVERY_TIMEOUT, IHF_WORKER_CONCURRENCY, IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION,
  IHF_POLL_INTERVAL, IHF_SHUTDOWN_TIMEOUT, IHF_LEASE_MARGIN, IHF_SECRET_ROTATION_GRACE,
  IHF_DISABLE_AFTER, IHF_RETRY_AFTER_MAX, IHF_DB_POOL_SIZE, IHF_AUTH_CACHE_TTL,
  IHF_LIMITS_SYNC_INTERVAL, IHF_TOKEN_TTL: see the README's configuration table
  IHF_LOG_PARTITION_INTERVAL     length of one log partition, whole minutes [default: 1d]
  IHF_DELIVERY_RETENTION         how long the delivery log keeps rows, or forever [default: 90d]
  IHF_REQUEST_LOG_RETENTION      how long the request log keeps rows, or forever [default: 30d]
  IHF_LOG_FORMAT                 text or json [default: text]
  RUST_LOG                       log filter [default: info]

Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.";

#[derive(Debug, Parser)]
#[command(
    name = "ihf-webhooks",
    version,
    about = "Webhook delivery sidecar for the framework database",
    after_help = ENVIRONMENT
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply all migrations (idempotent; safe from several replicas at once).
    Migrate {
        /// First create stand-ins for the framework tables if they are missing.
        #[arg(long)]
        with_fixture: bool,
        /// Apply the migrations up to this version only (to rehearse an
        /// upgrade from an older schema).
        #[arg(long, value_name = "VERSION")]
        until: Option<i32>,
    },
    /// Run the delivery worker and the HTTP side until SIGTERM/SIGINT.
    Serve {
        /// Run only the HTTP side.
        #[arg(long, conflicts_with = "no_api")]
        no_worker: bool,
        /// Run only the worker (health endpoints are still served).
        #[arg(long)]
        no_api: bool,
    },
    /// Make the logs' partitions ahead and drop those past retention, once;
    /// prints `{"created": [...], "dropped": [...]}` (serve does this periodically).
    Maintain,
    /// Manage API consumers.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The one-command tour: throwaway database, service, receiver, six signed deliveries.
    Demo {
        /// Stay up after the tour (insert rows yourself) until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
    },
    /// Sealed secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Exit 0 if this replica's /readyz (at IHF_LISTEN) answers 200; for container health checks.
    Healthcheck,
}

#[derive(Debug, Subcommand)]
enum ConsumerCommand {
    /// Create a consumer; prints it as JSON.
    Create {
        /// Display name (1 to 200 characters).
        #[arg(long)]
        name: String,
        /// Free text for operators.
        #[arg(long)]
        description: Option<String>,
        /// Requests admitted in any rolling 60 s.
        #[arg(long, default_value_t = 60)]
        rate_limit_per_minute: i32,
        /// Requests admitted per UTC day.
        #[arg(long, default_value_t = 10000)]
        quota_per_day: i32,
    },
    /// List every consumer; prints `{"consumers": [...]}`.
    List,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-seal every subscription secret under the first of IHF_SECRET_KEYS
    /// (and seal plaintext ones), so an older key can be retired; prints
    /// what it did as JSON.
    Reseal,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Issue a static key for a consumer; prints it (shown once) as JSON.
    Create {
        /// The consumer's id (from `consumer create` or `consumer list`).
        #[arg(long)]
        consumer: Uuid,
        /// Space-delimited scopes; default: every scope but admin.
        #[arg(long)]
        scopes: Option<String>,
        /// Lifetime such as 90d or 12h; default: no expiry.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Revoke a key and the OAuth tokens issued with it. Running replicas
    /// stop accepting it within IHF_AUTH_CACHE_TTL.
    Revoke {
        /// The key's id (as printed by `key create`; not the key itself).
        #[arg(long)]
        id: Uuid,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Demo { .. }) && std::env::var_os("RUST_LOG").is_none() {
        // The demo's screen is the tour; the service's info logs would bury it.
        // Set before the runtime starts any thread.
        std::env::set_var("RUST_LOG", "warn");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {}", failure_line(&e));
    ExitCode::FAILURE
}

/// One line: the error and those of its causes it does not already say
/// (tokio-postgres repeats its cause in its own message), and a hint when a
/// table is missing because the database was never migrated.
fn failure_line(e: &anyhow::Error) -> String {
    let mut line = db::describe(e.as_ref());
    let undefined_table = e.chain().any(|c| {
        c.downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|code| *code == tokio_postgres::error::SqlState::UNDEFINED_TABLE)
    });
    if undefined_table {
        line.push_str(" (is the database migrated? run `ihf-webhooks migrate`)");
    }
    line
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // These two need no DATABASE_URL.
    match cli.command {
        Command::Demo { keep_running } => {
            let cancel = CancellationToken::new();
            tokio::spawn(stop_on_signal(cancel.clone()));
            return crate::cli::demo::run(keep_running, cancel).await;
        }
        Command::Healthcheck => return print_json(&crate::cli::healthcheck::run().await?),
        _ => {}
    }
    let config = Config::from_env()?;
    telemetry::init(config.log_json)?;
    match cli.command {
        Command::Migrate {
            with_fixture,
            until,
        } => {
            let last = until.unwrap_or_else(migrate::latest_version);
            if !(1..=migrate::latest_version()).contains(&last) {
                anyhow::bail!(
                    "--until: {last} is not a migration version (1 to {})",
                    migrate::latest_version()
                );
            }
            let report =
                migrate::run_until(config.database_url.expose(), with_fixture, last).await?;
            if last >= migrate::FIRST_PARTITIONED {
                // The logs' partitions at once, so that even an older replica
                // still running finds them (serve keeps them up from then on).
                let mut client = connect(&config).await?;
                let settings = crate::logs::upkeep::Settings::of(&config);
                match crate::logs::upkeep::run_once(&mut client, &settings).await {
                    Ok(done) => {
                        tracing::info!(created = ?done.created, dropped = ?done.dropped, "log partitions")
                    }
                    Err(e) => {
                        tracing::warn!(error = %format_args!("{e:#}"), "log partition upkeep failed; serve or maintain will retry")
                    }
                }
            }
            print_json(&report)
        }
        Command::Maintain => {
            let mut client = connect(&config).await?;
            let settings = crate::logs::upkeep::Settings::of(&config);
            print_json(&crate::logs::upkeep::run_once(&mut client, &settings).await?)
        }
        Command::Serve { no_worker, no_api } => {
            let parts = Parts {
                worker: !no_worker,
                api: !no_api,
            };
            if config.migrate_on_start {
                let report = migrate::run(config.database_url.expose(), false).await?;
                tracing::info!(applied = ?report.applied, "IHF_MIGRATE_ON_START: migrated");
            }
            let app = App::build(config, parts).await?;
            let cancel = CancellationToken::new();
            tokio::spawn(stop_on_signal(cancel.clone()));
            app.run_until_stopped(cancel).await
        }
        Command::Consumer(ConsumerCommand::Create {
            name,
            description,
            rate_limit_per_minute,
            quota_per_day,
        }) => {
            let new = NewConsumer {
                name,
                description,
                rate_limit_per_minute,
                quota_per_day,
            };
            new.validate().map_err(anyhow::Error::msg)?;
            let client = connect(&config).await?;
            print_json(&consumers::create(&client, &new).await?)
        }
        Command::Consumer(ConsumerCommand::List) => {
            let client = connect(&config).await?;
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = consumers::list(&client, after, 1000).await?;
                let done = page.len() < 1000;
                after = page.last().map(|c| (c.created_at, c.id));
                all.extend(page);
                if done {
                    break;
                }
            }
            print_json(&serde_json::json!({ "consumers": all }))
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            let client = connect(&config).await?;
            match keys::revoke(&client, id).await? {
                Some(revoked) => print_json(&revoked),
                None => anyhow::bail!("--id: no key with id {id}"),
            }
        }
        Command::Key(KeyCommand::Create {
            consumer,
            scopes,
            expires_in,
        }) => {
            let scopes = match scopes {
                Some(text) => Scopes::parse(&text).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?,
                None => Scopes::default_scopes(),
            };
            let expires_at = match expires_in {
                Some(text) => {
                    let d =
                        parse_duration(&text).map_err(|e| anyhow::anyhow!("--expires-in: {e}"))?;
                    Some(chrono::Utc::now() + chrono::Duration::from_std(d)?)
                }
                None => None,
            };
            let client = connect(&config).await?;
            let exists = client
                .query_opt("SELECT 1 FROM api_consumers WHERE id = $1", &[&consumer])
                .await?;
            if exists.is_none() {
                anyhow::bail!("--consumer: no consumer with id {consumer}");
            }
            print_json(&keys::issue(&client, consumer, &scopes, "static", expires_at).await?)
        }
        Command::Secrets(SecretsCommand::Reseal) => {
            let client = connect(&config).await?;
            let sealer = Sealer::new(&config.secret_keys);
            print_json(&sealing::reseal_all(&client, &sealer).await?)
        }
        Command::Demo { .. } | Command::Healthcheck => unreachable!("handled above"),
    }
}

async fn connect(config: &Config) -> anyhow::Result<tokio_postgres::Client> {
    db::connect(config.database_url.expose())
        .await
        .context("cannot connect to the database")
}

/// Cancels `cancel` on SIGTERM or SIGINT.
async fn stop_on_signal(cancel: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("stop signal received; shutting down");
    cancel.cancel();
}
