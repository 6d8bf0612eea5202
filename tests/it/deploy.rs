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
