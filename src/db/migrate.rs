//! `ihf-webhooks migrate`: the external-API tables (V1), our own tables and
//! the capture triggers, applied by refinery under an advisory lock so several replicas
//! can start at once.

use crate::db::{self, sql};

refinery::embed_migrations!("migrations");

/// Tables the framework owns and we attach to; the seed references the manifests.
pub const FRAMEWORK_TABLES: [&str; 7] = [
    "hub_capability_manifests",
    "interaction_events",
    "annotations",
    "requirement_candidates",
    "decision_records",
    "deployment_records",
    "outcome_signals",
];

/// The migration that partitions the logs (V14), and the one before it.
pub const FIRST_PARTITIONED: i32 = 14;
const LAST_UNPARTITIONED: i32 = FIRST_PARTITIONED - 1;

/// Any key works as long as every replica uses the same one.
const MIGRATE_LOCK_KEY: i64 = 0x6968_665f_6d69_6772; // "ihf_migr"

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] tokio_postgres::Error),
    #[error("framework table {0} is missing (for development, run `migrate --with-fixture`)")]
    MissingFrameworkTable(String),
    #[error("database error while migrating: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Refinery(#[from] refinery::Error),
}

/// What `migrate` did, printed as JSON by the CLI.
#[derive(Debug, serde::Serialize)]
pub struct MigrateReport {
    pub applied: Vec<String>,
    pub current_version: Option<i32>,
}

pub async fn run(database_url: &str, with_fixture: bool) -> Result<MigrateReport, MigrateError> {
    run_until(database_url, with_fixture, latest_version()).await
}

/// Applies the migrations up to `last` only: for tests of upgrades from an
/// older schema.
pub async fn run_until(
    database_url: &str,
    with_fixture: bool,
    last: i32,
) -> Result<MigrateReport, MigrateError> {
    let mut client = db::connect(database_url)
        .await
        .map_err(MigrateError::Connect)?;
    // Session-level lock: released when this connection closes, even on
    // error. Asked for without waiting, between sleeps: a replica blocked in
    // pg_advisory_lock would be a running transaction, which the holder's
    // CREATE INDEX CONCURRENTLY waits for, a deadlock.
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])
            .await?
            .get(0);
        if got {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    if with_fixture {
        client.batch_execute(sql::FRAMEWORK_FIXTURE).await?;
    } else {
        check_framework_tables(&client).await?;
    }
    // Up to the last migration before the logs are partitioned; then, with
    // the logs still plain tables, what makes that migration's locks short
    // (src/logs/history.rs), outside any transaction; then the rest.
    let before = migrations::runner()
        .set_target(refinery::Target::Version(last.min(LAST_UNPARTITIONED)))
        .run_async(&mut client)
        .await?;
    let mut applied: Vec<String> = before
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    if last > LAST_UNPARTITIONED {
        let started = std::time::Instant::now();
        crate::logs::history::prepare(&client).await?;
        let prepared_ms = started.elapsed().as_millis() as u64;
        let started = std::time::Instant::now();
        let after = migrations::runner()
            .set_target(refinery::Target::Version(last))
            .run_async(&mut client)
            .await?;
        if !after.applied_migrations().is_empty() {
            // The second is what holds locks (bench/upgrade_lock_time.sh reads it).
            tracing::info!(
                prepared_ms,
                migrations_ms = started.elapsed().as_millis() as u64,
                "prepared the logs, then applied the migrations after V{LAST_UNPARTITIONED}"
            );
        }
        applied.extend(after.applied_migrations().iter().map(|m| m.to_string()));
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY])
        .await?;
    Ok(MigrateReport {
        applied,
        current_version: Some(last),
    })
}

async fn check_framework_tables(client: &tokio_postgres::Client) -> Result<(), MigrateError> {
    let names: Vec<&str> = FRAMEWORK_TABLES.to_vec();
    let missing = client
        .query(
            "SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) \
             WHERE to_regclass(t) IS NULL ORDER BY n LIMIT 1",
            &[&names],
        )
        .await?;
    match missing.first() {
        Some(row) => Err(MigrateError::MissingFrameworkTable(row.get(0))),
        None => Ok(()),
    }
}

/// (version, name) of every migration compiled into this binary.
pub fn known_migrations() -> Vec<(i32, String)> {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (m.version(), m.name().to_string()))
        .collect()
}

/// The newest migration version compiled into this binary.
pub fn latest_version() -> i32 {
    migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .max()
        .unwrap_or(0)
}
