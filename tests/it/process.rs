//! The real binary under real faults: SIGKILL mid-delivery, SIGTERM, two
//! replicas on one database, and the database refusing connections.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{eventually, test_env, Receiver, Reply, TestApp, API_ONLY, WAIT};

/// A `serve` process on its own port, logging JSON to a file.
struct Replica {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Replica {
    fn start(db_url: &str, extra: &[(&str, &str)]) -> Replica {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = std::env::temp_dir().join(format!("ihf-replica-{}.log", uuid::Uuid::new_v4()));
        let mut env: HashMap<&str, String> = test_env(db_url);
        env.insert("IHF_LISTEN", format!("127.0.0.1:{port}"));
        env.insert("IHF_LOG_FORMAT", "json".into());
        env.insert("RUST_LOG", "info".into());
        for (k, v) in extra {
            env.insert(k, v.to_string());
        }
        let child = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
            .arg("serve")
            .envs(env)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("serve starts");
        Replica { child, port, log }
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        eventually(WAIT, "replica ready", || async {
            match reqwest::get(&url).await {
                Ok(r) if r.status() == 200 => Some(()),
                _ => None,
            }
        })
        .await;
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit by itself (after SIGTERM).
    async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        eventually(within, "replica exits", || {
            let status = self.child.try_wait().unwrap();
            async move { status }
        })
        .await
    }

    fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `attempts_started` from the "worker stopped" line.
    fn attempts_started(&self) -> u64 {
        self.log_lines()
            .iter()
            .find(|l| l["fields"]["message"] == "worker stopped")
            .and_then(|l| l["fields"]["attempts_started"].as_u64())
            .expect("a worker stopped line")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Distinct event ids received, and how many requests repeated one.
fn tally(receiver: &Receiver) -> (usize, usize) {
    let all: Vec<String> = receiver.received().iter().map(|r| r.event_id()).collect();
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    (distinct.len(), all.len() - distinct.len())
}

/// Waits until `n` distinct events have arrived (duplicates not counted).
async fn all_delivered(receiver: &Receiver, n: usize) {
    eventually(WAIT, &format!("all {n} events delivered"), || async {
        (tally(receiver).0 == n).then_some(())
    })
    .await;
}

async fn insert_annotations(app: &TestApp, n: i32) {
    app.pg
        .execute(
            "INSERT INTO annotations (body) SELECT 'n' || g FROM generate_series(1, $1) g",
            &[&n],
        )
        .await
        .unwrap();
}

/// Refuses (and drops) every connection to the app's database, or lets them in again.
async fn database_reachable(app: &TestApp, reachable: bool) {
    let admin = crate::harness::TestDb::admin_client().await;
    let name = &app.db.name;
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS {reachable}"
        ))
        .await
        .unwrap();
    if !reachable {
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[name],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_replica_killed_mid_delivery_loses_nothing_and_duplicates_only_what_was_in_flight() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(150)));
    app.subscribe("annotation.created", &receiver.url()).await;
    insert_annotations(&app, 60).await;
    let settings = [("IHF_WORKER_CONCURRENCY", "8")];

    let mut first = Replica::start(&app.db.url(), &settings);
    receiver.wait_for(10, WAIT).await;
    first.child.kill().unwrap(); // SIGKILL, with attempts in flight
    first.child.wait().unwrap();
    // Every duplicate must come from a job the dead replica still held.
    let held = app
        .count("SELECT count(*) FROM ihf_jobs WHERE claimed_by IS NOT NULL")
        .await;
    assert!(held > 0, "the kill happened mid-delivery");

    let second = Replica::start(&app.db.url(), &settings);
    all_delivered(&receiver, 60).await;
    eventually(WAIT, "queue empty", || async {
        (app.count("SELECT count(*) FROM ihf_jobs").await == 0).then_some(())
    })
    .await;
    let (distinct, duplicates) = tally(&receiver);
    eprintln!(
        "SIGKILL: {distinct} events, {duplicates} duplicates, {held} jobs held by the dead replica"
    );
    assert_eq!(distinct, 60);
    assert!(
        duplicates as i64 <= held,
        "{duplicates} duplicates > {held} held"
    );
    drop(second);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_attempts_and_exits_zero() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(300)));
    app.subscribe("annotation.created", &receiver.url()).await;
    insert_annotations(&app, 30).await;
    let settings = [
        ("IHF_WORKER_CONCURRENCY", "4"),
        ("IHF_SHUTDOWN_TIMEOUT", "10s"),
    ];

    let mut first = Replica::start(&app.db.url(), &settings);
    receiver.wait_for(5, WAIT).await;
    first.sigterm();
    let status = first.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");
    let errors: Vec<_> = first
        .log_lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM ihf_jobs WHERE claimed_by IS NOT NULL")
            .await,
        0,
        "nothing left leased"
    );

    let second = Replica::start(&app.db.url(), &settings);
    all_delivered(&receiver, 30).await;
    assert_eq!(
        tally(&receiver).1,
        0,
        "a graceful stop causes no duplicates"
    );
    drop(second);
}

#[tokio::test]
async fn two_replicas_share_the_work_without_sending_anything_twice() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(20)));
    app.subscribe("annotation.created", &receiver.url()).await;
    // A second subscription to the same receiver (an exact duplicate is refused).
    app.subscribe("annotation.created", &format!("{}?copy=2", receiver.url()))
        .await;
    let mut a = Replica::start(&app.db.url(), &[]);
    let mut b = Replica::start(&app.db.url(), &[]);
    a.wait_ready().await;
    b.wait_ready().await;
    for _ in 0..10 {
        insert_annotations(&app, 10).await;
    }
    eventually(WAIT, "200 deliveries", || async {
        (receiver.received().len() >= 200).then_some(())
    })
    .await;
    eventually(WAIT, "queue empty", || async {
        (app.count("SELECT count(*) FROM ihf_jobs").await == 0).then_some(())
    })
    .await;
    a.sigterm();
    b.sigterm();
    assert!(a.wait_exit(WAIT).await.success());
    assert!(b.wait_exit(WAIT).await.success());
    let (distinct, duplicates) = tally(&receiver);
    assert_eq!(
        (distinct, receiver.received().len()),
        (100, 200),
        "100 events × 2 subscriptions"
    );
    assert_eq!(duplicates, 100, "each event once per subscription");
    let pairs: std::collections::HashSet<_> = receiver
        .received()
        .iter()
        .map(|r| (r.event_id(), r.header("webhook-signature").to_string()))
        .collect();
    assert_eq!(pairs.len(), 200, "no (event, subscription) pair twice");
    let (by_a, by_b) = (a.attempts_started(), b.attempts_started());
    eprintln!("replica a: {by_a} attempts, replica b: {by_b}");
    assert_eq!(by_a + by_b, 200);
    assert!(by_a > 0 && by_b > 0, "both replicas delivered some");
}

#[tokio::test]
async fn readiness_follows_the_database_and_delivery_resumes_after_it_returns() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.subscribe("annotation.created", &receiver.url()).await;
    let ready = |want: u16| {
        let url = app.url("/readyz");
        async move {
            eventually(WAIT, &format!("/readyz {want}"), || {
                let url = url.clone();
                async move {
                    let r = reqwest::get(&url).await.ok()?;
                    (r.status() == want).then_some(r.json::<Value>().await.unwrap())
                }
            })
            .await
        }
    };
    ready(200).await;

    database_reachable(&app, false).await;
    let down = ready(503).await;
    assert_eq!(down["status"], "not ready");
    let database = down["checks"]["database"].as_str().unwrap();
    assert!(database.starts_with("unreachable: "), "{database}");
    let url = app.url("/readyz");
    eventually(WAIT, "listener reported disconnected", || {
        let url = url.clone();
        async move {
            let body: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
            (body["checks"]["listener"] == "disconnected").then_some(())
        }
    })
    .await;

    database_reachable(&app, true).await;
    let up = ready(200).await;
    assert_eq!(up["checks"]["listener"], "ok");
    let pg = app.db.client().await;
    pg.execute(
        "INSERT INTO annotations (body) VALUES ('after the outage')",
        &[],
    )
    .await
    .unwrap();
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["data"]["body"], "after the outage");
}

#[tokio::test]
async fn a_database_outage_mid_delivery_loses_no_event_and_no_result() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(300)));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    insert_annotations(&app, 40).await;
    receiver.wait_for(1, WAIT).await;

    // Every connection dropped and refused while attempts are in flight: their
    // results must wait in the service until the database is back.
    database_reachable(&app, false).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    database_reachable(&app, true).await;

    let pg = app.db.client().await;
    let delivered = eventually(WAIT, "a delivered row for every event", || async {
        let row = pg
            .query_one(
                "SELECT count(DISTINCT payload->>'id'), count(*) FROM webhook_deliveries \
                 WHERE webhook_subscription_id = $1 AND status = 'delivered'",
                &[&sub],
            )
            .await
            .unwrap();
        let (events, rows): (i64, i64) = (row.get(0), row.get(1));
        (events == 40).then_some(rows)
    })
    .await;
    assert_eq!(delivered, 40, "one delivered row per event");
    let received = receiver.received();
    let sent: std::collections::HashSet<_> = received.iter().map(|r| r.event_id()).collect();
    assert_eq!(
        (sent.len(), received.len()),
        (40, 40),
        "each event sent once"
    );
    let left: i64 = pg
        .query_one("SELECT count(*) FROM ihf_jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "no job left behind");
}
