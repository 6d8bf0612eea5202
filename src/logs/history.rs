//! The upgrade from unpartitioned logs (migrations before V14): each old
//! table becomes its log's history partition, whole. What would make the
//! migration's locks grow with the rows is done first, here, outside any
//! transaction and without blocking the log's inserts: the new indexes built
//! CONCURRENTLY, and a CHECK constraint validated that proves every row
//! older than the history's bound, so that ATTACH need not scan.

use tokio_postgres::Client;

use super::{statements, Log, DELIVERIES, REQUESTS};

/// How far past now the history's bound is set: an older replica still
/// writing during the upgrade stays inside it while the constraint is
/// validated and the migration runs.
const BOUND_MARGIN: &str = "10 minutes";

/// Prepares each log that is still a plain table. Idempotent: a rerun after
/// an interruption drops an index a failed CONCURRENTLY build left invalid
/// and sets a fresh bound.
pub async fn prepare(client: &Client) -> Result<(), tokio_postgres::Error> {
    // Index builds and validation on a large log can take minutes.
    client
        .batch_execute("SET statement_timeout = 0; SET lock_timeout = '10s'")
        .await?;
    for log in [&DELIVERIES, &REQUESTS] {
        if is_plain_table(client, log).await? {
            prepare_log(client, log).await?;
        }
    }
    client
        .batch_execute("RESET statement_timeout; RESET lock_timeout")
        .await
}

async fn is_plain_table(client: &Client, log: &Log) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT c.relkind = 'r' FROM pg_class c WHERE c.oid = to_regclass($1::text)",
            &[&log.table],
        )
        .await?;
    // No such table yet (before V1): nothing to prepare.
    Ok(row.is_some_and(|r| r.get(0)))
}

async fn prepare_log(client: &Client, log: &Log) -> Result<(), tokio_postgres::Error> {
    drop_invalid_indexes(client, log).await?;
    let bound: String = client
        .query_one(
            &format!(
                "SELECT quote_literal(date_trunc('minute', now() + interval '{BOUND_MARGIN}') \
                 + interval '1 minute')"
            ),
            &[],
        )
        .await?
        .get(0);
    let ddl = format!(
        "{}\n{}",
        log.history_ddl,
        include_str!("../../sql/ddl/log_history_prepare.sql")
    )
    .replace("{log}", log.table)
    .replace("{time_column}", log.time_column)
    .replace("{bound}", &bound);
    for statement in statements(&ddl) {
        client.batch_execute(&statement).await?;
    }
    Ok(())
}

/// An index a CONCURRENTLY build left behind when interrupted is invalid,
/// and `IF NOT EXISTS` would keep it: drop it so that it is built again.
async fn drop_invalid_indexes(client: &Client, log: &Log) -> Result<(), tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
              WHERE i.indrelid = $1::text::regclass AND NOT i.indisvalid",
            &[&log.table],
        )
        .await?;
    for row in rows {
        let name: String = row.get(0);
        client
            .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS \"{name}\""))
            .await?;
    }
    Ok(())
}
