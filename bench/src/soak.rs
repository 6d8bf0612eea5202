//! A time-compressed retention soak: the logs partitioned by the minute and
//! kept for two (`IHF_LOG_PARTITION_INTERVAL=1m`, `IHF_DELIVERY_RETENTION=2m`,
//! `IHF_REQUEST_LOG_RETENTION=2m`; `--service-env` overrides them), under
//! steady load for `--soak-minutes`: annotation rows at `--soak-rate`/s to one
//! subscription and authenticated `GET /api/v2/webhooks` at
//! `--soak-api-rate`/s, so both logs grow. Every `--soak-sample-seconds` it
//! prints the service's footprint, the two logs' sizes, rows and oldest row;
//! at the end whether the footprint levelled off: the largest total of the
//! last third of the run against that of the middle third. Nothing is
//! vacuumed by hand: this is what autovacuum and the service's own upkeep
//! leave.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ihf_webhooks::delivery::signing;

use crate::footprint::{human, Footprint, TableSize};
use crate::receiver::Receiver;
use crate::service::{connect, BenchDb, Service};
use crate::storage::insert_paced;
use crate::{bench_consumer_key, subscribe_fanout, Args, Row};

/// The last third's largest total may exceed the middle third's by this
/// much and still count as level: partitions are dropped a whole interval
/// at a time, so the total saws up and down by about one interval's rows.
const LEVEL_TOLERANCE: f64 = 0.10;

/// Settings the soak compresses time with, before `--service-env`.
const SOAK_ENV: [(&str, &str); 3] = [
    ("IHF_LOG_PARTITION_INTERVAL", "1m"),
    ("IHF_DELIVERY_RETENTION", "2m"),
    ("IHF_REQUEST_LOG_RETENTION", "2m"),
];

struct Sample {
    seconds: f64,
    total: i64,
    deliveries: TableSize,
    delivery_rows: i64,
    oldest_delivery: Option<f64>,
    request_log: TableSize,
    request_rows: i64,
    oldest_request: Option<f64>,
    received: u64,
}

impl Sample {
    async fn take(
        client: &tokio_postgres::Client,
        started: Instant,
        receiver: &Receiver,
    ) -> anyhow::Result<Sample> {
        let footprint = Footprint::measure(client).await?;
        let logs = client
            .query_one(
                "SELECT (SELECT count(*) FROM webhook_deliveries),
                        (SELECT extract(epoch FROM clock_timestamp() - min(attempted_at))::float8
                           FROM webhook_deliveries),
                        (SELECT count(*) FROM api_request_log),
                        (SELECT extract(epoch FROM clock_timestamp() - min(requested_at))::float8
                           FROM api_request_log)",
                &[],
            )
            .await?;
        Ok(Sample {
            seconds: started.elapsed().as_secs_f64(),
            total: footprint.total(),
            deliveries: footprint.table("webhook_deliveries"),
            delivery_rows: logs.get(0),
            oldest_delivery: logs.get(1),
            request_log: footprint.table("api_request_log"),
            request_rows: logs.get(2),
            oldest_request: logs.get(3),
            received: receiver.received.verified.load(Ordering::Relaxed),
        })
    }

    fn print(&self) {
        let age = |a: Option<f64>| a.map_or("-".to_string(), |s| format!("{s:.0} s"));
        eprintln!(
            "   {:>5.0} s  total {:>9}  webhook_deliveries {:>9} ({} partitions, {} rows, oldest {})  \
             api_request_log {:>9} ({} partitions, {} rows, oldest {})  received {}",
            self.seconds,
            human(self.total),
            human(self.deliveries.total()),
            self.deliveries.partitions,
            self.delivery_rows,
            age(self.oldest_delivery),
            human(self.request_log.total()),
            self.request_log.partitions,
            self.request_rows,
            age(self.oldest_request),
            self.received,
        );
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "seconds": self.seconds,
            "total_bytes": self.total,
            "deliveries_bytes": self.deliveries.total(),
            "deliveries_partitions": self.deliveries.partitions,
            "deliveries_rows": self.delivery_rows,
            "oldest_delivery_s": self.oldest_delivery,
            "request_log_bytes": self.request_log.total(),
            "request_log_partitions": self.request_log.partitions,
            "request_log_rows": self.request_rows,
            "oldest_request_s": self.oldest_request,
            "received": self.received,
        })
    }
}

/// The largest total among samples in `(from, to]` seconds.
fn max_total(samples: &[Sample], from: f64, to: f64) -> Option<i64> {
    samples
        .iter()
        .filter(|s| s.seconds > from && s.seconds <= to)
        .map(|s| s.total)
        .max()
}

pub async fn run(args: &Args) -> anyhow::Result<Row> {
    anyhow::ensure!(
        args.soak_minutes > 0.0
            && args.soak_rate > 0
            && args.soak_api_rate > 0
            && args.soak_sample_seconds > 0.0,
        "--soak-minutes, --soak-rate, --soak-api-rate and --soak-sample-seconds must be above 0"
    );
    let length = Duration::from_secs_f64(args.soak_minutes * 60.0);
    let mut env: Vec<(&str, String)> = SOAK_ENV.iter().map(|(k, v)| (*k, v.to_string())).collect();
    env.extend(args.service_env());
    // The settings in effect: a later pair overrides an earlier one.
    let settings: BTreeMap<&str, String> = env.iter().cloned().collect();
    let setting = |name: &str| settings.get(name).cloned().unwrap_or_default();

    let db = BenchDb::create_with(&args.server, &env).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    subscribe_fanout(&db, &receiver.base(), &secret, 1).await?;
    let client = connect(&db.url()).await?;
    let key = bench_consumer_key(&client, 1_000_000).await?;
    let service = Service::start(&db.url(), &env).await?;
    eprintln!(
        "   partitions {}, delivery retention {}, request-log retention {}; \
         {} events/s and {} API requests/s for {:.1} min",
        setting("IHF_LOG_PARTITION_INTERVAL"),
        setting("IHF_DELIVERY_RETENTION"),
        setting("IHF_REQUEST_LOG_RETENTION"),
        args.soak_rate,
        args.soak_api_rate,
        args.soak_minutes,
    );

    let started = Instant::now();
    let mut samples = vec![Sample::take(&client, started, &receiver).await?];
    samples[0].print();
    // One statement every 50 ms carries the event rate.
    let batch = (args.soak_rate / 20).max(1);
    let events = (args.soak_rate as f64 * length.as_secs_f64()) as u64;
    let (url, rate) = (db.url(), args.soak_rate);
    let inserts = tokio::spawn(async move { insert_paced(&url, events, rate, batch).await });
    let api_url = format!("http://127.0.0.1:{}/api/v2/webhooks", service.port);
    let (api_key, api_rate) = (key.clone(), args.soak_api_rate);
    let requests =
        tokio::spawn(
            async move { crate::load::fixed_rate(&api_url, &api_key, api_rate, length).await },
        );

    let every = Duration::from_secs_f64(args.soak_sample_seconds);
    let mut next = started + every;
    while next <= started + length {
        tokio::time::sleep_until(next.into()).await;
        let sample = Sample::take(&client, started, &receiver).await?;
        sample.print();
        samples.push(sample);
        next += every;
    }
    let achieved_events = inserts.await??;
    let (achieved_requests, _) = requests.await??;
    if samples
        .last()
        .is_some_and(|s| s.seconds < length.as_secs_f64())
    {
        let sample = Sample::take(&client, started, &receiver).await?;
        sample.print();
        samples.push(sample);
    }
    let received = receiver.received.verified.load(Ordering::Relaxed);
    let rejected = receiver.received.rejected.load(Ordering::Relaxed);
    service.stop();
    db.drop_db().await?;
    anyhow::ensure!(
        rejected == 0,
        "{rejected} deliveries failed signature verification"
    );

    let end = samples.last().map_or(0.0, |s| s.seconds);
    let middle = max_total(&samples, end / 3.0, end * 2.0 / 3.0);
    let last = max_total(&samples, end * 2.0 / 3.0, end);
    let (verdict, growth) = match (middle, last) {
        (Some(m), Some(l)) => {
            let growth = l as f64 / m as f64 - 1.0;
            let verdict = if growth <= LEVEL_TOLERANCE {
                "levelled off"
            } else {
                "still growing"
            };
            (verdict, Some(growth))
        }
        _ => ("too few samples to judge", None),
    };
    let growth_text = growth.map_or(String::new(), |g| format!(" ({:+.0} %)", g * 100.0));
    eprintln!(
        "   largest total: middle third {}, last third {}{growth_text}: {verdict}",
        middle.map_or("-".into(), human),
        last.map_or("-".into(), human),
    );
    let first = &samples[0];
    let final_sample = samples.last().expect("at least the first sample");
    Ok(Row {
        scenario: format!(
            "soak: {} events/s + {} API req/s for {:.1} min, partitions {}, retention {} / {}",
            args.soak_rate,
            args.soak_api_rate,
            args.soak_minutes,
            setting("IHF_LOG_PARTITION_INTERVAL"),
            setting("IHF_DELIVERY_RETENTION"),
            setting("IHF_REQUEST_LOG_RETENTION"),
        ),
        result: format!(
            "{verdict}: largest total in the middle third {}, in the last third {}{growth_text}; \
             total {} → {}; at the end webhook_deliveries {} ({} rows, oldest {:.0} s), \
             api_request_log {} ({} rows, oldest {:.0} s); {received} of {events} events received, \
             inserts at {achieved_events:.0}/s, API at {achieved_requests:.1} req/s",
            middle.map_or("-".into(), human),
            last.map_or("-".into(), human),
            human(first.total),
            human(final_sample.total),
            human(final_sample.deliveries.total()),
            final_sample.delivery_rows,
            final_sample.oldest_delivery.unwrap_or(f64::NAN),
            human(final_sample.request_log.total()),
            final_sample.request_rows,
            final_sample.oldest_request.unwrap_or(f64::NAN),
        ),
        values: serde_json::json!({
            "verdict": verdict,
            "middle_third_max_bytes": middle,
            "last_third_max_bytes": last,
            "growth": growth,
            "events": events,
            "received": received,
            "settings": settings,
            "samples": samples.iter().map(Sample::json).collect::<Vec<_>>(),
        }),
    })
}
