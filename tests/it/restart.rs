//! A real PostgreSQL crash and restart under the running service. The shared
//! server the other tests use cannot be restarted, so this test makes a
//! private cluster with the machine's own `initdb` and `pg_ctl` (as the
//! `postgres` OS user when the tests run as root, since PostgreSQL refuses
//! root) and kills it with `pg_ctl -m immediate`: no shutdown checkpoint, WAL
//! replay on start, the worker's asynchronous commits of the last moments lost.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{eventually, test_env, Receiver, Reply, Service, BOTH, WAIT};

/// A PostgreSQL cluster of this test's own, on a free port.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The OS user the server runs as, when the tests run as root.
    run_as: Option<String>,
}

impl Cluster {
    fn start() -> Cluster {
        let bin = postgres_bin_dir();
        let dir = std::env::temp_dir().join(format!("ihf-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        let running_as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        let run_as = running_as_root.then(|| "postgres".to_string());
        if running_as_root {
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin,
            dir,
            port,
            run_as,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.pg_ctl(&["start"]);
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// SIGQUIT to every server process, then a start with crash recovery.
    fn crash_and_restart(&self) {
        self.pg_ctl(&["-m", "immediate", "restart"]);
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=30",
            self.port,
            self.dir.display()
        );
        let data = self.data();
        let log = self.dir.join("server.log");
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-l",
            log.to_str().unwrap(),
            "-o",
            &options,
        ];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    /// One of the server's programs, as the server's OS user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest PostgreSQL server binaries on the machine (Debian's layout).
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries under /usr/lib/postgresql")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    versions
        .pop()
        .expect("initdb under /usr/lib/postgresql/*/bin")
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Connects, waiting for the server to accept connections again.
async fn connect(url: &str) -> tokio_postgres::Client {
    eventually(WAIT, "the database accepts connections", || async {
        ihf_webhooks::db::connect(url).await.ok()
    })
    .await
}

#[tokio::test]
async fn a_database_crash_mid_delivery_loses_nothing_and_keeps_each_webhook_id() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let admin = connect(&cluster.url("postgres")).await;
    admin.batch_execute("CREATE DATABASE ihf").await.unwrap();
    let url = cluster.url("ihf");
    ihf_webhooks::db::migrate::run(&url, true).await.unwrap();

    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(100)));
    let pg = connect(&url).await;
    pg.execute(
        "WITH c AS (INSERT INTO api_consumers (name) VALUES ('c') RETURNING id) \
         INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
         SELECT id, 'annotation.created', $1, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM c",
        &[&receiver.url()],
    )
    .await
    .unwrap();
    let service = Service::start(test_env(&url), BOTH).await;

    let insert = "INSERT INTO annotations (body) SELECT $1 || g FROM generate_series(1, 40) g";
    pg.execute(insert, &[&"before "]).await.unwrap();
    receiver.wait_for(5, WAIT).await;
    // Deliveries are under way: some sent and recorded, some in flight.
    let moving = tokio::task::spawn_blocking(move || {
        cluster.crash_and_restart();
        cluster
    });
    let cluster = moving.await.unwrap();

    let pg = connect(&url).await;
    pg.execute(insert, &[&"after "]).await.unwrap();

    // Every row arrives, and a row sent twice (its fan-out or its result lost
    // in the crash) comes under the same webhook-id both times.
    let ids_per_row = eventually(WAIT, "all 80 rows delivered", || async {
        let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
        for r in receiver.received() {
            let body: Value = r.json();
            let row = body["data"]["body"].as_str().unwrap().to_string();
            ids.entry(row).or_default().insert(r.event_id());
        }
        (ids.len() == 80).then_some(ids)
    })
    .await;
    for (row, ids) in &ids_per_row {
        assert_eq!(ids.len(), 1, "{row} came under {ids:?}");
    }
    eventually(
        WAIT,
        "a delivered row per event and no job left",
        || async {
            let row = pg
                .query_one(
                    "SELECT (SELECT count(DISTINCT payload->>'id') FROM webhook_deliveries \
                          WHERE status = 'delivered'), \
                        (SELECT count(*) FROM ihf_jobs), (SELECT count(*) FROM ihf_outbox)",
                    &[],
                )
                .await
                .ok()?;
            let counts: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            (counts == (80, 0, 0)).then_some(())
        },
    )
    .await;
    eprintln!(
        "crash: 80 rows, {} requests received",
        receiver.received().len()
    );
    service.stop().await;
    drop(cluster);
}
