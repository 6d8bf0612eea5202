//! `ihf-bench`: the benchmark harness (see README "Benchmarks").
//!
//! Every scenario makes a fresh database, starts the real `ihf-webhooks serve`
//! binary and a receiver that verifies every signature, and measures from the
//! outside: rows inserted into the framework tables, verified receipts at the
//! receiver.

mod ceiling;
mod cpu;
mod footprint;
mod receiver;
mod service;
mod soak;
mod storage;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use ihf_webhooks::access::consumers::{self, NewConsumer};
use ihf_webhooks::capture::event_types::EVENT_TYPES;
use ihf_webhooks::delivery::signing::{self, Secret};
use serde::Serialize;

use receiver::Receiver;
use service::{connect, BenchDb, Service};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks for ihf-webhooks (build with --release)")]
struct Args {
    /// Scenarios to run, comma-separated: ceiling, throughput, fanout,
    /// latency, backlog, fairness, host, api, storage, soak. Run `ceiling`
    /// first: every later throughput is then also reported as a fraction of
    /// it. `storage` and `soak` measure bytes, not speed; the soak takes
    /// minutes and runs only when asked for.
    #[arg(
        long,
        default_value = "ceiling,throughput,fanout,latency,backlog,fairness,host,api,storage"
    )]
    scenarios: String,
    /// Seconds for each of the two ceilings (HTTP only, database only).
    #[arg(long, default_value_t = 10)]
    ceiling_seconds: u64,
    /// Subscription counts for the fan-out scenario.
    #[arg(long, default_value = "1,6,200,2000,10000", value_delimiter = ',')]
    fanout_subscriptions: Vec<usize>,
    /// Deliveries per fan-out case (events = this / subscriptions, at least 1).
    #[arg(long, default_value_t = 100_000)]
    fanout_deliveries: usize,
    /// PostgreSQL server URL, without a database name.
    #[arg(
        long,
        env = "BENCH_SERVER_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    server: String,
    /// Events for the throughput scenario.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events for the backlog scenario.
    #[arg(long, default_value_t = 1_000_000)]
    backlog_events: usize,
    /// Seconds per rate in the latency scenario.
    #[arg(long, default_value_t = 10)]
    latency_seconds: u64,
    /// Runs per rate in the latency scenario, each with a fresh service.
    #[arg(long, default_value_t = 1)]
    latency_runs: usize,
    /// Seconds per run of the host-cost scenario (pgbench).
    #[arg(long, default_value_t = 10)]
    host_seconds: u64,
    /// Annotation rows for each storage case (steady and burst).
    #[arg(long, default_value_t = 20_000)]
    storage_rows: u64,
    /// Rows/s in the steady storage case.
    #[arg(long, default_value_t = 2_000)]
    storage_rate: u64,
    /// Rows per insert statement in the steady storage case: fewer than a
    /// subscription's attempts in flight (64 by default), so that a steady
    /// inflow starts every delivery at once; a bigger statement makes the
    /// excess wait (and log a `pending` row), as the burst case shows.
    #[arg(long, default_value_t = 10)]
    storage_batch: u64,
    /// Minutes of load in the soak.
    #[arg(long, default_value_t = 8.0)]
    soak_minutes: f64,
    /// Annotation rows/s in the soak (one subscription).
    #[arg(long, default_value_t = 200)]
    soak_rate: u64,
    /// Authenticated API requests/s in the soak (`GET /api/v2/webhooks`).
    #[arg(long, default_value_t = 20)]
    soak_api_rate: u64,
    /// Seconds between the soak's footprint samples.
    #[arg(long, default_value_t = 30.0)]
    soak_sample_seconds: f64,
    /// Write the results as JSON here too.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Extra environment for the service, e.g. `--service-env IHF_WORKER_CONCURRENCY=512`.
    #[arg(long = "service-env", value_parser = parse_env_pair)]
    service_env: Vec<(String, String)>,
}

fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

impl Args {
    fn service_env(&self) -> Vec<(&str, String)> {
        self.service_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    scenario: String,
    result: String,
    values: serde_json::Value,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rows = Vec::new();
    let mut limits: Option<ceiling::Ceiling> = None;
    for scenario in args.scenarios.split(',').map(str::trim) {
        eprintln!("== {scenario}");
        match scenario {
            "ceiling" => {
                let measured = ceiling::measure(&args.server, args.ceiling_seconds).await?;
                rows.push(measured.row());
                limits = Some(measured);
            }
            "throughput" => {
                for subs in [1, 3] {
                    rows.push(ceiling::relate(throughput(&args, subs).await?, &limits));
                }
            }
            "fanout" => {
                for &n in &args.fanout_subscriptions {
                    rows.push(ceiling::relate(fanout(&args, n).await?, &limits));
                    eprintln!(
                        "   {}",
                        rows.last().map(|r| r.result.as_str()).unwrap_or("")
                    );
                }
            }
            "latency" => {
                for rate in [250, 500, 2000] {
                    for _ in 0..args.latency_runs {
                        rows.push(latency(&args, rate).await?);
                        eprintln!(
                            "   {}",
                            rows.last().map(|r| r.result.as_str()).unwrap_or("")
                        );
                    }
                }
            }
            "backlog" => rows.push(ceiling::relate(backlog(&args).await?, &limits)),
            "fairness" => rows.extend(fairness(&args).await?),
            "host" => rows.extend(host_cost(&args)?),
            "api" => rows.push(api(&args).await?),
            "storage" => {
                let steady = storage::Load::Steady {
                    rate: args.storage_rate,
                    batch: args.storage_batch,
                };
                for load in [steady, storage::Load::Burst] {
                    rows.push(storage::run(&args, load).await?);
                }
            }
            "soak" => rows.push(soak::run(&args).await?),
            other => anyhow::bail!("unknown scenario {other:?}"),
        }
        eprintln!(
            "   {}",
            rows.last().map(|r| r.result.as_str()).unwrap_or("")
        );
    }
    println!("\n| scenario | result |\n|---|---|");
    for row in &rows {
        println!("| {} | {} |", row.scenario, row.result);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

/// The consumer the benchmarks act as: limits far above what they send.
async fn bench_consumer(
    client: &tokio_postgres::Client,
    rate_limit_per_minute: i32,
) -> anyhow::Result<consumers::Consumer> {
    Ok(consumers::create(
        client,
        &NewConsumer {
            name: "bench".into(),
            description: None,
            rate_limit_per_minute,
            quota_per_day: 1_000_000_000,
        },
    )
    .await?)
}

/// A bench consumer and a static key of it with the default scopes.
async fn bench_consumer_key(
    client: &tokio_postgres::Client,
    rate_limit_per_minute: i32,
) -> anyhow::Result<String> {
    let consumer = bench_consumer(client, rate_limit_per_minute).await?;
    let key = ihf_webhooks::access::keys::issue(
        client,
        consumer.id,
        &ihf_webhooks::access::keys::Scopes::default_scopes(),
        "static",
        None,
    )
    .await?;
    Ok(key.key)
}

/// A consumer with `per_type` subscriptions per event type, all to `url`.
async fn subscribe_all(
    db: &BenchDb,
    url: &str,
    secret: &Secret,
    per_type: i32,
) -> anyhow::Result<()> {
    let client = connect(&db.url()).await?;
    let consumer = bench_consumer(&client, 1_000_000).await?;
    let types: Vec<&str> = EVENT_TYPES.iter().map(|t| t.name).collect();
    client
        .execute(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT $1, t, $2, $3 FROM unnest($4::text[]) t, generate_series(1, $5)",
            &[&consumer.id, &url, &secret.expose(), &types, &per_type],
        )
        .await?;
    Ok(())
}

/// `n` subscriptions of one event type (`annotation.created`), at most 10 per
/// consumer as a framework would have them, each with its own URL.
async fn subscribe_fanout(
    db: &BenchDb,
    base: &str,
    secret: &Secret,
    n: usize,
) -> anyhow::Result<()> {
    let client = connect(&db.url()).await?;
    let mut consumer_ids = Vec::new();
    for c in 0..n.div_ceil(10) {
        let consumer = consumers::create(
            &client,
            &NewConsumer {
                name: format!("bench-{c}"),
                description: None,
                rate_limit_per_minute: 1_000_000,
                quota_per_day: 1_000_000_000,
            },
        )
        .await?;
        consumer_ids.push(consumer.id);
    }
    client
        .execute(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT ($1::uuid[])[(g - 1) / 10 + 1], 'annotation.created', $2 || '/hook/' || g, $3 \
               FROM generate_series(1, $4::int) g",
            &[&consumer_ids, &base, &secret.expose(), &(n as i32)],
        )
        .await?;
    Ok(())
}

/// `events` rows into `annotations`, in chunks of 1000, on two connections.
async fn insert_annotations(db_url: &str, events: usize) -> anyhow::Result<()> {
    let sql = bulk_insert("annotations");
    let plan = (0..events)
        .step_by(1000)
        .map(|start| (sql.clone(), (events - start).min(1000) as i32))
        .collect();
    run_inserts(db_url, plan).await
}

/// N subscriptions of one event type, each its own URL, default settings:
/// deliveries/s from the first insert to the last receipt, every
/// subscription checked to have received every event.
async fn fanout(args: &Args, n: usize) -> anyhow::Result<Row> {
    let db = BenchDb::create(&args.server).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start_counting(secret.clone()).await?;
    subscribe_fanout(&db, &receiver.base(), &secret, n).await?;
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let events = args.fanout_deliveries.div_ceil(n).max(1);
    let expected = (events * n) as u64;
    let started = Instant::now();
    let cpu_before = cpu::sample(service.pid());
    insert_annotations(&db.url(), events).await?;
    let last = receiver
        .wait_for(expected, Duration::from_secs(600))
        .await?;
    let cpu = cpu_split(cpu_before, &service, expected);
    let elapsed = last - started;
    let rate = expected as f64 / elapsed.as_secs_f64();
    let rss = service.peak_rss_mib();
    service.stop();
    db.drop_db().await?;
    let received = &receiver.received;
    let per_path = received.per_path.lock().unwrap().clone();
    let short = (1..=n)
        .filter(|i| per_path.get(&format!("/hook/{i}")).copied().unwrap_or(0) < events as u64)
        .count();
    let duplicates = received.duplicates.load(Ordering::Relaxed);
    let rejected = received.rejected.load(Ordering::Relaxed);
    anyhow::ensure!(
        rejected == 0,
        "{rejected} deliveries failed signature verification"
    );
    anyhow::ensure!(
        short == 0,
        "{short} of {n} subscriptions did not receive all {events} events"
    );
    Ok(Row {
        scenario: format!("fanout, {events} events × {n} subscription(s) of one type"),
        result: format!(
            "{rate:.0} deliveries/s ({expected} in {:.2} s; {duplicates} duplicates; peak RSS {rss:.0} MiB){}",
            elapsed.as_secs_f64(),
            describe(&cpu)
        ),
        values: serde_json::json!({ "subscriptions": n, "events": events, "deliveries_per_s": rate, "deliveries": expected, "seconds": elapsed.as_secs_f64(), "duplicates": duplicates, "peak_rss_mib": rss, "cpu_us_per_delivery": cpu }),
    })
}

/// The CPU each part spent per delivery since `before` (None off Linux).
fn cpu_split(
    before: Option<cpu::Sample>,
    service: &Service,
    deliveries: u64,
) -> Option<cpu::PerDelivery> {
    let after = cpu::sample(service.pid())?;
    Some(cpu::per_delivery(&before?, &after, deliveries))
}

fn describe(cpu: &Option<cpu::PerDelivery>) -> String {
    cpu.map(|c| format!("; {}", c.describe()))
        .unwrap_or_default()
}

/// About 500 bytes of text per row, so envelopes are realistically sized.
const FILLER: &str = "repeat('the quick brown fox jumps over the lazy dog ', 11)";

/// `INSERT … SELECT … generate_series($1)` for each source table.
fn bulk_insert(table: &str) -> String {
    let (cols, values) = match table {
        "interaction_events" => (
            "event_type, widget_id, properties",
            format!("'clicked', 'w' || g, jsonb_build_object('note', {FILLER})"),
        ),
        "annotations" => ("author, body", format!("'bench', {FILLER}")),
        "requirement_candidates" => (
            "title, description, priority",
            format!("'req ' || g, {FILLER}, g % 5"),
        ),
        "decision_records" => ("decision, rationale", format!("'accept', {FILLER}")),
        "deployment_records" => (
            "environment, version, deployed_by",
            format!("'prod', '1.' || g, {FILLER}"),
        ),
        _ => (
            "metric, value, deployment_record_id",
            "'adoption', g * 0.01, NULL".to_string(),
        ),
    };
    format!("INSERT INTO {table} ({cols}) SELECT {values} FROM generate_series(1, $1) g")
}

/// Inserts `events` rows spread over the six tables, in chunks, on two connections.
async fn insert_spread(db_url: &str, events: usize) -> anyhow::Result<()> {
    let chunk = 1000usize;
    let per_table = events / EVENT_TYPES.len();
    let mut left: Vec<usize> = (0..EVENT_TYPES.len())
        .map(|i| per_table + usize::from(i < events % EVENT_TYPES.len()))
        .collect();
    // Round-robin over the tables, so every event type flows at once.
    let mut plan: Vec<(String, i32)> = Vec::new();
    while left.iter().any(|&n| n > 0) {
        for (t, left) in EVENT_TYPES.iter().zip(left.iter_mut()) {
            let n = (*left).min(chunk);
            if n > 0 {
                plan.push((bulk_insert(t.table), n as i32));
                *left -= n;
            }
        }
    }
    run_inserts(db_url, plan).await
}

/// Runs the bulk inserts of `plan` (statement, row count) alternately on two
/// connections, as two writers would.
async fn run_inserts(db_url: &str, plan: Vec<(String, i32)>) -> anyhow::Result<()> {
    let halves: Vec<Vec<(String, i32)>> = vec![
        plan.iter().step_by(2).cloned().collect(),
        plan.iter().skip(1).step_by(2).cloned().collect(),
    ];
    let mut tasks = tokio::task::JoinSet::new();
    for half in halves {
        let url = db_url.to_string();
        tasks.spawn(async move {
            let client = connect(&url).await?;
            for (sql, n) in half {
                client.execute(&sql, &[&n]).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

async fn throughput(args: &Args, subs: i32) -> anyhow::Result<Row> {
    let db = BenchDb::create(&args.server).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    subscribe_all(&db, &receiver.url(), &secret, subs).await?;
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let expected = (args.events * subs as usize) as u64;
    let started = Instant::now();
    let cpu_before = cpu::sample(service.pid());
    insert_spread(&db.url(), args.events).await?;
    let inserted = started.elapsed();
    let last = receiver
        .wait_for(expected, Duration::from_secs(600))
        .await?;
    let cpu = cpu_split(cpu_before, &service, expected);
    let elapsed = last - started;
    let rate = expected as f64 / elapsed.as_secs_f64();
    let rss = service.peak_rss_mib();
    let rejected = receiver.received.rejected.load(Ordering::Relaxed);
    service.stop();
    db.drop_db().await?;
    anyhow::ensure!(
        rejected == 0,
        "{rejected} deliveries failed signature verification"
    );
    Ok(Row {
        scenario: format!("throughput, {} events × {subs} subscription(s) per type", args.events),
        result: format!(
            "{rate:.0} deliveries/s ({expected} in {:.2} s; inserts took {:.2} s; peak RSS {rss:.0} MiB){}",
            elapsed.as_secs_f64(),
            inserted.as_secs_f64(),
            describe(&cpu)
        ),
        values: serde_json::json!({ "deliveries_per_s": rate, "deliveries": expected, "seconds": elapsed.as_secs_f64(), "peak_rss_mib": rss, "cpu_us_per_delivery": cpu }),
    })
}

async fn latency(args: &Args, rate: u64) -> anyhow::Result<Row> {
    let db = BenchDb::create(&args.server).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    subscribe_all(&db, &receiver.url(), &secret, 1).await?;
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let lat = delays(&db, &receiver, rate, args.latency_seconds).await?;
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    service.stop();
    db.drop_db().await?;
    Ok(Row {
        scenario: format!("latency at {rate} events/s ({} events)", lat.len()),
        result: format!(
            "commit→receipt p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
            p(0.5),
            p(0.95),
            p(0.99),
            p(0.999),
            lat[lat.len() - 1]
        ),
        values: serde_json::json!({ "rate": rate, "p50_ms": p(0.5), "p95_ms": p(0.95), "p99_ms": p(0.99), "p999_ms": p(0.999), "max_ms": lat[lat.len() - 1] }),
    })
}

/// Inserts annotations at `rate` per second for `seconds` and returns the
/// commit→receipt delays (ms, sorted) of those that reached `receiver`.
async fn delays(
    db: &BenchDb,
    receiver: &Receiver,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Vec<f64>> {
    // Synchronous commits cost ~2–3 ms here, so several writers share the rate.
    let writers = 8u64;
    let total = rate * seconds;
    let per_writer = total / writers;
    let interval = Duration::from_secs_f64(writers as f64 / rate as f64);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let url = db.url();
        tasks.spawn(async move {
            let client = connect(&url).await?;
            let stmt = client
                .prepare("INSERT INTO annotations (id, author, body) VALUES ($1, 'bench', 'latency probe')")
                .await?;
            // Spread the writers' ticks across one interval.
            tokio::time::sleep(interval.mul_f64(w as f64 / writers as f64)).await;
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut commits = Vec::with_capacity(per_writer as usize);
            for _ in 0..per_writer {
                ticks.tick().await;
                let id = uuid::Uuid::new_v4();
                client.execute(&stmt, &[&id]).await?;
                commits.push((id.to_string(), Instant::now()));
            }
            anyhow::Ok(commits)
        });
    }
    let mut commits = Vec::new();
    while let Some(r) = tasks.join_next().await {
        commits.extend(r??);
    }
    // A receipt still missing after the wait counts as infinitely late (the
    // fairness scenario's uncapped case may starve the healthy consumer).
    if let Err(e) = receiver
        .wait_for(commits.len() as u64, Duration::from_secs(60))
        .await
    {
        eprintln!("   {e}");
    }
    let arrivals = receiver.received.arrivals.lock().unwrap().clone();
    let mut lat: Vec<f64> = commits
        .iter()
        .map(|(id, at)| {
            arrivals.get(id).map_or(f64::INFINITY, |got| {
                got.saturating_duration_since(*at).as_secs_f64() * 1000.0
            })
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    Ok(lat)
}

/// Fairness between consumers, in the scaled configuration of the hardening
/// probe (32 slots, 8 per subscription, 5 s timeout: the defaults' ratios):
/// a healthy consumer's delays at 100 events/s alone, beside a consumer
/// whose 16 subscriptions hang with the per-consumer cap at 8 (the defaults'
/// 512:128), and beside it with no consumer cap (32). Reports p50/p95 and
/// the p95 ratio to alone.
async fn fairness(args: &Args) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut alone_p95 = f64::NAN;
    for (case, hanging, consumer_cap) in [
        ("alone", false, "8"),
        (
            "beside 16 hanging subscriptions of one consumer, consumer cap 8",
            true,
            "8",
        ),
        (
            "beside 16 hanging subscriptions of one consumer, no consumer cap (32)",
            true,
            "32",
        ),
    ] {
        let db = BenchDb::create(&args.server).await?;
        let secret = signing::generate_secret();
        let receiver = Receiver::start(secret.clone()).await?;
        let client = connect(&db.url()).await?;
        let mut consumer_ids = Vec::new();
        for name in ["healthy", "hanging"] {
            let consumer = consumers::create(
                &client,
                &NewConsumer {
                    name: name.into(),
                    description: None,
                    rate_limit_per_minute: 1_000_000,
                    quota_per_day: 1_000_000_000,
                },
            )
            .await?;
            consumer_ids.push(consumer.id);
        }
        let subscribe = "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
                         SELECT $1, 'annotation.created', $2 || g, $3 FROM generate_series(1, $4::int) g";
        let healthy_url = format!("{}/hook/", receiver.base());
        client
            .execute(
                subscribe,
                &[&consumer_ids[0], &healthy_url, &secret.expose(), &1i32],
            )
            .await?;
        if hanging {
            let hang_url = format!("{}/hang/", receiver.base());
            client
                .execute(
                    subscribe,
                    &[&consumer_ids[1], &hang_url, &secret.expose(), &16i32],
                )
                .await?;
        }
        let mut env = vec![
            ("IHF_WORKER_CONCURRENCY", "32".to_string()),
            ("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", "8".to_string()),
            ("IHF_MAX_IN_FLIGHT_PER_CONSUMER", consumer_cap.to_string()),
            ("IHF_DELIVERY_TIMEOUT", "5s".to_string()),
            ("IHF_SHUTDOWN_TIMEOUT", "1s".to_string()),
        ];
        env.extend(args.service_env());
        let service = Service::start(&db.url(), &env).await?;
        let lat = delays(&db, &receiver, 100, args.latency_seconds).await?;
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        if !hanging {
            alone_p95 = p(0.95);
        }
        service.stop();
        db.drop_db().await?;
        rows.push(Row {
            scenario: format!("fairness: healthy consumer at 100 events/s, {case}"),
            result: format!(
                "p50 {:.1} ms, p95 {:.1} ms ({:.1} × alone); {} of {} not delivered within 60 s",
                p(0.5),
                p(0.95),
                p(0.95) / alone_p95,
                lat.iter().filter(|l| l.is_infinite()).count(),
                lat.len()
            ),
            values: serde_json::json!({ "p50_ms": p(0.5), "p95_ms": p(0.95), "p95_ratio_to_alone": p(0.95) / alone_p95, "undelivered": lat.iter().filter(|l| l.is_infinite()).count() }),
        });
        eprintln!(
            "   {}",
            rows.last().map(|r| r.result.as_str()).unwrap_or("")
        );
    }
    Ok(rows)
}

async fn backlog(args: &Args) -> anyhow::Result<Row> {
    let db = BenchDb::create(&args.server).await?;
    let secret = signing::generate_secret();
    let receiver = Receiver::start(secret.clone()).await?;
    subscribe_all(&db, &receiver.url(), &secret, 1).await?;
    eprintln!(
        "   inserting {} events with no worker running",
        args.backlog_events
    );
    insert_spread(&db.url(), args.backlog_events).await?;
    let started = Instant::now();
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let cpu_before = cpu::sample(service.pid());
    let last = receiver
        .wait_for(args.backlog_events as u64, Duration::from_secs(1800))
        .await?;
    let cpu = cpu_split(cpu_before, &service, args.backlog_events as u64);
    let elapsed = last - started;
    let rate = args.backlog_events as f64 / elapsed.as_secs_f64();
    let rss = service.peak_rss_mib();
    service.stop();
    db.drop_db().await?;
    Ok(Row {
        scenario: format!(
            "backlog of {} events, worker started afterwards",
            args.backlog_events
        ),
        result: format!(
            "drained at {rate:.0} deliveries/s in {:.1} s; peak RSS {rss:.0} MiB{}",
            elapsed.as_secs_f64(),
            describe(&cpu)
        ),
        values: serde_json::json!({ "deliveries_per_s": rate, "seconds": elapsed.as_secs_f64(), "peak_rss_mib": rss, "cpu_us_per_delivery": cpu }),
    })
}

/// Runs bench/capture_overhead.sh (pgbench) and reports its JSON.
fn host_cost(args: &Args) -> anyhow::Result<Vec<Row>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/capture_overhead.sh");
    let out = std::env::temp_dir().join(format!("ihf-host-{}.json", std::process::id()));
    let status = std::process::Command::new("bash")
        .arg(script)
        .env("DURATION", args.host_seconds.to_string())
        .env("OUT_JSON", &out)
        .stdout(std::process::Stdio::inherit())
        .status()?;
    anyhow::ensure!(status.success(), "capture_overhead.sh failed");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    let _ = std::fs::remove_file(&out);
    Ok(vec![Row {
        scenario: "host cost: framework inserts with our triggers (pgbench)".into(),
        result: "see the capture_overhead table above".into(),
        values: json,
    }])
}

async fn api(args: &Args) -> anyhow::Result<Row> {
    let db = BenchDb::create(&args.server).await?;
    let client = connect(&db.url()).await?;
    let key = bench_consumer_key(&client, 10_000_000).await?;
    let service = Service::start(&db.url(), &args.service_env()).await?;
    let url = format!("http://127.0.0.1:{}/api/v2/webhooks", service.port);
    let rate = 1000u64;
    let seconds = args.latency_seconds;
    let (achieved, mut lat) =
        load::fixed_rate(&url, &key, rate, Duration::from_secs(seconds)).await?;
    lat.sort_by(f64::total_cmp);
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    service.stop();
    db.drop_db().await?;
    Ok(Row {
        scenario: format!("API: GET /api/v2/webhooks at {rate} req/s for {seconds} s"),
        result: format!(
            "{achieved:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
            p(0.5),
            p(0.99)
        ),
        values: serde_json::json!({ "req_per_s": achieved, "p50_ms": p(0.5), "p99_ms": p(0.99) }),
    })
}

mod load {
    //! An open-loop HTTP load generator: requests start on a fixed schedule
    //! whatever the latency, so slow responses show up in the percentiles.
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    pub async fn fixed_rate(
        url: &str,
        key: &str,
        rate: u64,
        length: Duration,
    ) -> anyhow::Result<(f64, Vec<f64>)> {
        let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        while started.elapsed() < length {
            ticks.tick().await;
            let req = hyper::Request::get(url)
                .header("authorization", format!("Bearer {key}"))
                .body(Empty::new())?;
            let client = client.clone();
            tasks.spawn(async move {
                let t = Instant::now();
                let res = client.request(req).await?;
                let ok = res.status().is_success();
                res.into_body().collect().await?;
                anyhow::ensure!(ok, "non-2xx response");
                anyhow::Ok(t.elapsed().as_secs_f64() * 1000.0)
            });
        }
        let mut lat = Vec::new();
        while let Some(r) = tasks.join_next().await {
            lat.push(r??);
        }
        Ok((lat.len() as f64 / started.elapsed().as_secs_f64(), lat))
    }
}

/// Status of a GET, or None if the server did not answer.
pub async fn http_get_status(url: &str) -> Option<u16> {
    use http_body_util::Empty;
    let client: hyper_util::client::legacy::Client<_, Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let res = client.get(url.parse().ok()?).await.ok()?;
    Some(res.status().as_u16())
}
