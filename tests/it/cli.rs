//! The real binary: migrate, consumer and key creation, configuration errors.

use std::process::Command;

use serde_json::Value;

use crate::harness::{texts, TestDb};

fn ihf(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout_json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[tokio::test]
async fn migrate_without_the_framework_names_the_missing_table() {
    let db = TestDb::empty().await;
    let out = ihf(&db.url(), &["migrate"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("framework table hub_capability_manifests is missing"),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_is_idempotent_and_safe_from_several_replicas_at_once() {
    let db = TestDb::empty().await;
    let url = db.url();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || ihf(&url, &["migrate", "--with-fixture"]))
        })
        .collect();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    let mut applied = 0;
    for run in runs {
        let report = stdout_json(&run.join().unwrap());
        applied += report["applied"].as_array().unwrap().len();
        assert_eq!(
            report["current_version"],
            ihf_webhooks::db::migrate::latest_version()
        );
    }
    assert_eq!(
        applied, migrations,
        "each migration applied exactly once across the replicas"
    );
    let again = stdout_json(&ihf(&url, &["migrate", "--with-fixture"]));
    assert_eq!(again["applied"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn consumer_and_key_creation_print_json_and_store_only_the_hash() {
    let db = TestDb::migrated().await;
    let consumer = stdout_json(&ihf(
        &db.url(),
        &[
            "consumer",
            "create",
            "--name",
            "acme",
            "--rate-limit-per-minute",
            "120",
        ],
    ));
    assert_eq!(consumer["name"], "acme");
    assert_eq!(consumer["rate_limit_per_minute"], 120);
    let id = consumer["id"].as_str().unwrap();
    let key = stdout_json(&ihf(
        &db.url(),
        &["key", "create", "--consumer", id, "--expires-in", "90d"],
    ));
    let text = key["key"].as_str().unwrap();
    assert!(text.starts_with("ihf_"));
    assert_eq!(key["key_prefix"].as_str().unwrap(), &text[4..12]);
    assert_eq!(
        key["scopes"],
        "webhooks:read webhooks:write deliveries:read usage:read"
    );

    let client = db.client().await;
    let row = client
        .query_one("SELECT key_hash, expires_at IS NOT NULL FROM api_keys", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        ihf_webhooks::access::keys::hash_key(text)
    );
    assert!(row.get::<_, bool>(1));
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM api_keys WHERE key_hash = $1 OR key_prefix = $1",
            &[&text],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0, "the key itself is never stored");
}

#[tokio::test]
async fn bad_input_is_one_line_and_a_non_zero_exit() {
    let db = TestDb::migrated().await;
    for (args, expected) in [
        (
            vec![
                "key",
                "create",
                "--consumer",
                "00000000-0000-0000-0000-000000000000",
            ],
            "no consumer with id",
        ),
        (
            vec!["consumer", "create", "--name", "x", "--quota-per-day", "0"],
            "quota_per_day must be at least 1",
        ),
    ] {
        let out = ihf(&db.url(), &args);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .args(["serve"])
        .env("DATABASE_URL", db.url())
        .env("IHF_RETRY_SCHEDULE", "5s,soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: IHF_RETRY_SCHEDULE:"), "{stderr}");
}

#[tokio::test]
async fn operators_list_consumers_and_revoke_keys_from_the_command_line() {
    let db = TestDb::migrated().await;
    let acme = stdout_json(&ihf(&db.url(), &["consumer", "create", "--name", "acme"]));
    stdout_json(&ihf(&db.url(), &["consumer", "create", "--name", "globex"]));
    let listed = stdout_json(&ihf(&db.url(), &["consumer", "list"]));
    let names: Vec<&str> = texts(&listed["consumers"], "name");
    assert_eq!(names, ["acme", "globex"]);

    let id = acme["id"].as_str().unwrap();
    let key = stdout_json(&ihf(&db.url(), &["key", "create", "--consumer", id]));
    let key_id = key["id"].as_str().unwrap();
    let revoked = stdout_json(&ihf(&db.url(), &["key", "revoke", "--id", key_id]));
    assert_eq!(revoked["id"], key_id);
    assert_eq!(revoked["api_consumer_id"], id);
    assert!(revoked["revoked_at"].is_string());
    let client = db.client().await;
    let still_revoked: bool = client
        .query_one(
            "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1::text::uuid",
            &[&key_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(still_revoked);

    let out = ihf(
        &db.url(),
        &[
            "key",
            "revoke",
            "--id",
            "00000000-0000-0000-0000-000000000000",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key with id"));
}
