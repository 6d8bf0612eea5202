//! Database access: connection pools and the SQL statements, one per file in
//! `sql/`, named after their job and compiled into the binary.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub mod migrate;
pub mod schema;

/// Every statement the service runs, loaded from `sql/`. A test prepares each
/// one against the migrated schema, so a typo fails CI, not production.
pub mod sql {
    macro_rules! statements {
        ($($name:ident = $file:literal;)*) => {
            $(pub const $name: &str = include_str!(concat!("../../sql/", $file));)*
            /// (file name, text) of every statement, for the prepare-all test.
            pub const ALL: &[(&str, &str)] = &[$(($file, $name)),*];
        };
    }
    statements! {
        OUTBOX_FAN_OUT = "outbox_fan_out.sql";
        JOBS_CLAIM_DUE = "jobs_claim_due.sql";
        JOBS_FINISH = "jobs_finish.sql";
        JOBS_RELEASE = "jobs_release.sql";
        JOBS_NEXT_DUE = "jobs_next_due.sql";
        JOBS_EXPIRE_LEASES = "jobs_expire_leases.sql";
        SUBSCRIPTIONS_DEACTIVATE = "subscriptions_deactivate.sql";
        SUBSCRIPTIONS_RECORD_HEALTH = "subscriptions_record_health.sql";
        SUBSCRIPTIONS_DISABLE_FAILING = "subscriptions_disable_failing.sql";
        SUBSCRIPTIONS_INSERT = "subscriptions_insert.sql";
        SUBSCRIPTIONS_COUNT_FOR_CREATE = "subscriptions_count_for_create.sql";
        SUBSCRIPTIONS_LIST_SECRETS = "subscriptions_list_secrets.sql";
        SUBSCRIPTIONS_RESEAL_SECRET = "subscriptions_reseal_secret.sql";
        SUBSCRIPTIONS_LIST = "subscriptions_list.sql";
        SUBSCRIPTIONS_GET = "subscriptions_get.sql";
        SUBSCRIPTIONS_UPDATE = "subscriptions_update.sql";
        SUBSCRIPTIONS_DELETE = "subscriptions_delete.sql";
        SUBSCRIPTIONS_ROTATE_SECRET = "subscriptions_rotate_secret.sql";
        SUBSCRIPTIONS_GET_FOR_SEND = "subscriptions_get_for_send.sql";
        DELIVERIES_INSERT_ATTEMPT = "deliveries_insert_attempt.sql";
        JOBS_REDELIVER = "jobs_redeliver.sql";
        JOBS_QUEUE_DEPTH = "jobs_queue_depth.sql";
        QUEUE_VACUUM = "queue_vacuum.sql";
        CONSUMERS_INSERT = "consumers_insert.sql";
        CONSUMERS_GET = "consumers_get.sql";
        CONSUMERS_LIST = "consumers_list.sql";
        CONSUMERS_UPDATE = "consumers_update.sql";
        CONSUMERS_SYNC_QUOTA = "consumers_sync_quota.sql";
        CONSUMERS_ROLL_QUOTA = "consumers_roll_quota.sql";
        KEYS_INSERT = "keys_insert.sql";
        KEYS_AUTHENTICATE = "keys_authenticate.sql";
        KEYS_TOUCH = "keys_touch.sql";
        KEYS_REVOKE = "keys_revoke.sql";
        KEYS_LIST = "keys_list.sql";
        KEYS_PURGE_EXPIRED_TOKENS = "keys_purge_expired_tokens.sql";
        REQUEST_LOG_INSERT = "request_log_insert.sql";
        DELIVERIES_LIST = "deliveries_list.sql";
        USAGE_BY_BUCKET = "usage_by_bucket.sql";
        CONSUMERS_OVERVIEW = "consumers_overview.sql";
        SUBSCRIPTION_HEALTH_RECORD = "subscription_health_record.sql";
        SUBSCRIPTION_STATS = "subscription_stats.sql";
        SUBSCRIPTIONS_LOCK = "subscriptions_lock.sql";
        JOBS_RECOVER = "jobs_recover.sql";
        OPERATOR_NOTIFY_FAILING = "operator_notify_failing.sql";
        OPERATOR_NOTIFY_RECOVERED = "operator_notify_recovered.sql";
        OPERATOR_NOTIFY_DISABLED = "operator_notify_disabled.sql";
        OPERATOR_NOTIFY_EXHAUSTED = "operator_notify_exhausted.sql";
        OPERATOR_EXHAUSTIONS_ENSURE = "operator_exhaustions_ensure.sql";
        OPERATOR_EXHAUSTIONS_LOCK = "operator_exhaustions_lock.sql";
        OPERATOR_EXHAUSTIONS_DUE = "operator_exhaustions_due.sql";
        OPERATOR_EXHAUSTIONS_SAVE = "operator_exhaustions_save.sql";
        OPERATOR_NOTIFICATIONS_CLAIM = "operator_notifications_claim.sql";
        OPERATOR_NOTIFICATIONS_FINISH = "operator_notifications_finish.sql";
        OPERATOR_NOTIFICATIONS_DEPTH = "operator_notifications_depth.sql";
        SCHEMA_HISTORY_VERSIONS = "schema_history_versions.sql";
        LOG_PARTITIONS_LIST = "log_partitions_list.sql";
        SUBSCRIPTIONS_PURGE_DELETED = "subscriptions_purge_deleted.sql";
    }
    /// Stand-ins for the framework tables (`migrate --with-fixture`).
    pub const FRAMEWORK_FIXTURE: &str = include_str!("../../sql/framework_fixture.sql");
}

/// Which kind of work a pool serves. The worker's commits are asynchronous
/// (`synchronous_commit=off`): every state it writes can be redone, so a
/// database crash costs at most a redelivery of the last moments' work, never
/// a lost event, and each batch saves an fsync (~2–3 ms here). API writes
/// (subscriptions, keys) stay synchronous: a 201 means durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Api,
    Worker,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    BadUrl(#[from] BadUrl),
    #[error("could not build the connection pool: {0}")]
    Pool(String),
}

/// The one way [`pg_config`] fails: its own type, so callers that only parse
/// (such as [`connect`]) need not handle the pool's errors.
#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL is not a valid PostgreSQL connection string: {0}")]
pub struct BadUrl(pub tokio_postgres::Error);

/// Parses the connection string and adds our session settings: a statement
/// timeout, so a query never hangs forever, and the pool's commit mode.
/// JIT compilation is off: every statement here is short, and PostgreSQL
/// decides on JIT from the plan's estimated cost, which for the worker's
/// generic plans grows with the queue. A fan-out planned on a 1 000 000-event
/// outbox crossed `jit_above_cost` and was compiled on every run: 65-140 ms
/// for a round that otherwise takes a few (auto_explain, 2026-12-04).
///
/// The worker's sessions also rule out sequential scans. Its statements are
/// index probes into queues (`ihf_outbox`, `ihf_jobs`) whose size swings from
/// empty to millions of rows between two plans, and its plans are generic,
/// made once from the statistics of the moment. A fan-out planned while
/// VACUUM had just seen the outbox empty scanned the whole outbox three
/// times per round once it had filled: 58-103 ms per round of 400 events on
/// a 20 000-event outbox, 17-19 ms with index scans, 10-12 ms once its lists
/// were no longer joined either (`bench/fan_out_rounds.sh`, 2026-12-04).
pub fn pg_config(url: &str, kind: PoolKind) -> Result<tokio_postgres::Config, BadUrl> {
    let mut config: tokio_postgres::Config = url.parse().map_err(BadUrl)?;
    let mut options = config.get_options().unwrap_or("").to_string();
    options.push_str(" -c statement_timeout=30000 -c client_min_messages=warning -c jit=off");
    if kind == PoolKind::Worker {
        options.push_str(
            " -c synchronous_commit=off -c plan_cache_mode=force_generic_plan -c enable_seqscan=off",
        );
    }
    config.options(options.trim());
    config.application_name(match kind {
        PoolKind::Api => "ihf-webhooks-api",
        PoolKind::Worker => "ihf-webhooks-worker",
    });
    config.connect_timeout(Duration::from_secs(5));
    config.keepalives_idle(Duration::from_secs(30));
    Ok(config)
}

/// A pool of `size` connections; waiting for one times out instead of hanging.
pub fn pool(url: &str, kind: PoolKind, size: usize) -> Result<Pool, DbError> {
    let manager = Manager::from_config(
        pg_config(url, kind)?,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// An error and its causes on one line, for logs and the CLI: a tokio-postgres
/// error may say only "db error" and keep the server's words in its source,
/// or repeat them; a cause already said is not said again.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Connects one client outside any pool and drives its connection in the background.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let config = pg_config(url, PoolKind::Api).map_err(|BadUrl(e)| e)?;
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %describe(&e), "database connection closed");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("db error")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn describe_carries_the_cause_a_bare_display_hides() {
        let e = Outer(std::io::Error::other(
            "FATAL: database \"x\" is not currently accepting connections",
        ));
        assert_eq!(e.to_string(), "db error");
        assert_eq!(
            describe(&e),
            "db error: FATAL: database \"x\" is not currently accepting connections"
        );
    }
}
