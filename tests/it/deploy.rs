//! What containers rely on: `healthcheck` and `IHF_MIGRATE_ON_START`.

use std::time::Duration;

use tokio::process::Command;

use crate::harness::{eventually, test_env, Service, TestDb, BOTH, WAIT};

fn ihf() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"));
    c.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    c
}

/// `ihf-webhooks healthcheck` against the HTTP side at `listen`.
async fn healthcheck(listen: &str) -> std::process::Output {
    ihf()
        .arg("healthcheck")
        .env("IHF_LISTEN", listen)
        .output()
        .await
        .unwrap()
}

#[tokio::test]
async fn healthcheck_passes_on_a_ready_service_and_fails_in_one_line_otherwise() {
    let db = TestDb::migrated().await;
    let service = Service::start(test_env(&db.url()), BOTH).await;
    // Wildcard addresses are asked on loopback, as in the container image.
    let listen = format!("0.0.0.0:{}", service.port);
    let out = eventually(WAIT, "healthcheck passes", || async {
        let out = healthcheck(&listen).await;
        out.status.success().then_some(out)
    })
    .await;
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["status"], "ready");

    service.stop().await;
    let out = healthcheck(&listen).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: http://127.0.0.1:"), "{stderr}");
}

#[tokio::test]
async fn serve_migrates_first_when_asked_to() {
    let db = TestDb::empty().await;
    let client = db.client().await;
    // The framework's tables exist; ours do not yet.
    client
        .batch_execute(ihf_webhooks::db::sql::FRAMEWORK_FIXTURE)
        .await
        .unwrap();

    let bad = ihf()
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("IHF_MIGRATE_ON_START", "maybe")
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("error: IHF_MIGRATE_ON_START:"));

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut serve = ihf()
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("IHF_LISTEN", &listen)
        .env("IHF_MIGRATE_ON_START", "true")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    eventually(WAIT, "serve is ready", || async {
        let out = healthcheck(&listen).await;
        out.status.success().then_some(())
    })
    .await;
    let version: i32 = client
        .query_one("SELECT max(version) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, ihf_webhooks::db::migrate::latest_version());
    let pid = serve.id().unwrap().to_string();
    let term = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(term.success());
    let status = tokio::time::timeout(Duration::from_secs(20), serve.wait())
        .await
        .expect("serve stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn the_alert_rules_use_only_metrics_the_service_exports_and_each_has_a_runbook() {
    let rules = include_str!("../../deploy/prometheus-rules.yml");
    let exported = include_str!("../../src/metrics.rs");
    let readme = include_str!("../../README.md");
    let mut names: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("ihf_") && !w.starts_with("ihf_webhooks"))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        // Histograms are exported under their base name.
        let base = name.trim_end_matches("_bucket");
        assert!(
            exported.contains(&format!("\"{base}\"")),
            "{name} is not a metric of src/metrics.rs"
        );
    }
    for line in rules
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
    {
        let alert = line.split(':').nth(1).unwrap().trim();
        assert!(
            readme.contains(&format!("#### `{alert}`")),
            "{alert} has no runbook section in the README"
        );
    }
}

/// `/readyz`'s status and body, once it answers `status`.
async fn readyz(port: u16, status: u16) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{port}/readyz");
    eventually(WAIT, &format!("/readyz {status}"), || {
        let url = url.clone();
        async move {
            let r = reqwest::get(&url).await.ok()?;
            (r.status() == status).then_some(r.json().await.ok()?)
        }
    })
    .await
}

#[tokio::test]
async fn readiness_waits_for_every_migration_and_names_the_first_missing_one() {
    let db = TestDb::empty().await;
    let service = Service::start(test_env(&db.url()), BOTH).await;
    let first = &ihf_webhooks::db::schema::known()[0];

    let body = readyz(service.port, 503).await;
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["checks"]["database"], "ok");
    let schema = body["checks"]["schema"].as_str().unwrap();
    assert!(
        schema.starts_with(&format!("missing migration {first} ")),
        "{schema}"
    );

    ihf_webhooks::db::migrate::run(&db.url(), true)
        .await
        .unwrap();
    let body = readyz(service.port, 200).await;
    assert_eq!(body["checks"]["schema"], "ok");

    // A newer replica's migration (a version this binary does not know)
    // does not make this one unready.
    let newer = ihf_webhooks::db::migrate::latest_version() + 1000;
    db.client()
        .await
        .execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES ($1, 'from_a_newer_replica', now()::text, '0')",
            &[&newer],
        )
        .await
        .unwrap();
    let body = readyz(service.port, 200).await;
    assert_eq!(body["checks"]["schema"], "ok");
    service.stop().await;
}

#[tokio::test]
async fn readiness_names_why_the_database_is_unreachable_without_the_password() {
    let missing = format!("ihf_test_missing_{}", uuid::Uuid::new_v4().simple());
    let server = crate::harness::db::server_url();
    // The password goes into the URL (trust auth ignores it).
    let url = server.replacen("://postgres@", "://postgres:pw-never-shown@", 1);
    assert_ne!(url, server, "the test server URL has the user postgres");
    let service = Service::start(test_env(&format!("{url}/{missing}")), BOTH).await;

    let body = readyz(service.port, 503).await;
    let database = body["checks"]["database"].as_str().unwrap();
    assert!(database.starts_with("unreachable: "), "{database}");
    assert!(
        database.contains(&format!("database \"{missing}\" does not exist")),
        "{database}"
    );
    assert_eq!(body["checks"]["schema"], "unknown");
    assert!(!body.to_string().contains("pw-never-shown"), "{body}");
    service.stop().await;
}
