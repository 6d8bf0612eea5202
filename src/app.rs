//! Startup: `App::build` connects and binds (port 0 allowed, so tests can run
//! many), `run_until_stopped` runs the worker and the HTTP side until the
//! cancellation token fires.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::access::request_log::{self, RequestLog};
use crate::access::sealing::{self, Sealer};
use crate::api::{self, gate, upkeep, AppState};
use crate::capture::doorbell::{self, Doorbell};
use crate::config::Config;
use crate::db::{self, PoolKind};
use crate::delivery::client::WebhookClient;
use crate::delivery::ssrf::TargetPolicy;
use crate::delivery::{queue_gauges, Worker};
use crate::logs;
use crate::metrics::Metrics;
use crate::notify;

/// Which halves of the service this process runs (`--no-worker`, `--no-api`).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub worker: bool,
    pub api: bool,
}

pub struct App {
    config: Config,
    parts: Parts,
    http: TcpListener,
    api_pool: deadpool_postgres::Pool,
    doorbell: Option<Arc<Doorbell>>,
    metrics: Arc<Metrics>,
}

impl App {
    pub async fn build(config: Config, parts: Parts) -> anyhow::Result<App> {
        let api_pool = db::pool(
            config.database_url.expose(),
            PoolKind::Api,
            config.db_pool_size.min(4),
        )?;
        let http = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("IHF_LISTEN: cannot listen on {}: {e}", config.listen))?;
        let doorbell = parts.worker.then(|| Arc::new(Doorbell::default()));
        seal_secrets_at_rest(&config, &api_pool).await?;
        first_log_upkeep(&config, &api_pool).await;
        Ok(App {
            config,
            parts,
            http,
            api_pool,
            doorbell,
            metrics: Arc::new(Metrics::new()),
        })
    }

    /// The port the HTTP side is bound to.
    pub fn port(&self) -> u16 {
        self.http.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn doorbell(&self) -> Option<Arc<Doorbell>> {
        self.doorbell.clone()
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let policy = TargetPolicy {
            allow_private: self.config.allow_private_targets,
            allow_http: self.config.allow_http_targets,
            dns_timeout: self.config.dns_timeout,
        };
        let webhook_client = WebhookClient::new(policy, self.config.delivery_timeout)
            .with_sealer(Sealer::new(&self.config.secret_keys));
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(logs::upkeep::run(
            self.api_pool.clone(),
            logs::upkeep::Settings::of(&self.config),
            cancel.clone(),
        ));
        let mut worker_pool = None;
        if let Some(bell) = &self.doorbell {
            let pool = db::pool(
                self.config.database_url.expose(),
                PoolKind::Worker,
                self.config.db_pool_size,
            )?;
            tasks.spawn(doorbell::run(
                self.config.database_url.expose().to_string(),
                bell.clone(),
                self.metrics.clone(),
                cancel.clone(),
            ));
            let worker = Worker::new(
                &self.config,
                pool.clone(),
                webhook_client.clone(),
                bell.clone(),
                self.metrics.clone(),
            );
            tasks.spawn(worker.run(cancel.clone()));
            if let Some(sender) =
                notify::Sender::new(&self.config, pool.clone(), self.metrics.clone())
            {
                tasks.spawn(sender.run(cancel.clone()));
            }
            worker_pool = Some(pool);
        }
        let (gauge_pool, sample) = match &worker_pool {
            Some(pool) => (pool.clone(), queue_gauges::Sample::Queues),
            None => (self.api_pool.clone(), queue_gauges::Sample::DatabaseOnly),
        };
        tasks.spawn(queue_gauges::run(
            gauge_pool,
            sample,
            self.metrics.clone(),
            cancel.clone(),
        ));
        // The gate's background writers stop only after the server has
        // finished its last request, so they flush everything it recorded.
        let (request_log, log_rx) = RequestLog::new();
        let gate = gate::new_gate(
            self.config.auth_cache_ttl,
            self.config.token_ttl,
            request_log,
            api::openapi::route_scopes(&api::openapi::document()),
        );
        let writers_stop = CancellationToken::new();
        let mut writers = tokio::task::JoinSet::new();
        if self.parts.api {
            writers.spawn(request_log::run(
                self.api_pool.clone(),
                log_rx,
                writers_stop.clone(),
            ));
            writers.spawn(upkeep::run(
                self.api_pool.clone(),
                gate.clone(),
                self.config.limits_sync_interval,
                writers_stop.clone(),
            ));
        }
        let state = AppState {
            db: self.api_pool.clone(),
            target_policy: policy,
            doorbell: self.doorbell.clone(),
            webhook_client,
            secret_rotation_grace: self.config.secret_rotation_grace,
            metrics: self.metrics.clone(),
            worker_pool,
            gate,
            max_subscriptions_per_consumer: self.config.max_subscriptions_per_consumer,
            delivery_retention: self.config.delivery_retention,
        };
        let router = api::router(state, self.parts.api);
        let shutdown = cancel.clone();
        tracing::info!(
            listen = %self.http.local_addr()?,
            worker = self.parts.worker,
            api = self.parts.api,
            "ihf-webhooks running"
        );
        let limits = crate::server::Limits {
            header_timeout: self.config.http_header_timeout,
            body_timeout: self.config.http_body_timeout,
            idle_timeout: self.config.http_idle_timeout,
            max_connections: self.config.http_max_connections,
        };
        crate::server::serve(self.http, router, limits, shutdown).await;
        writers_stop.cancel();
        while writers.join_next().await.is_some() {}
        while tasks.join_next().await.is_some() {}
        self.api_pool.close();
        Ok(())
    }
}

/// Both halves write a log: its partitions come before anything runs. A
/// failure (an unmigrated database, say) is logged; the periodic upkeep
/// tries again.
async fn first_log_upkeep(config: &Config, pool: &deadpool_postgres::Pool) {
    let settings = logs::upkeep::Settings::of(config);
    let pass = async {
        let mut client = pool.get().await?;
        logs::upkeep::run_once(&mut client, &settings).await
    };
    match pass.await {
        Ok(report) => {
            tracing::info!(created = ?report.created, dropped = ?report.dropped, "log partitions")
        }
        Err(e) => {
            tracing::warn!(error = %format_args!("{e:#}"), "log partition upkeep failed at startup; will retry")
        }
    }
}

/// With `IHF_SECRET_KEYS`, seals the subscription secrets still stored in
/// plaintext (and moves those sealed under an older key to the first), before
/// anything is served; without it, says once that secrets are stored unsealed.
async fn seal_secrets_at_rest(
    config: &Config,
    pool: &deadpool_postgres::Pool,
) -> anyhow::Result<()> {
    if config.secret_keys.is_empty() {
        tracing::warn!(
            "IHF_SECRET_KEYS is not set: subscription secrets are stored unsealed \
             (anyone who can read the database or a backup can forge webhooks)"
        );
        return Ok(());
    }
    let client = pool
        .get()
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {}", db::describe(&e)))?;
    let report = sealing::reseal_all(&**client, &Sealer::new(&config.secret_keys)).await?;
    if report.sealed + report.resealed > 0 {
        tracing::info!(
            sealed = report.sealed,
            resealed = report.resealed,
            key_id = %report.key_id,
            "sealed subscription secrets at rest"
        );
    }
    Ok(())
}
