//! The real binary: migrate, consumer and key creation, configuration errors.

use std::process::Command;

use serde_json::Value;

use crate::harness::{texts, TestDb};

pub(crate) fn ihf(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

pub(crate) fn stdout_json(out: &std::process::Output) -> Value {
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

#[tokio::test]
async fn commands_on_an_unmigrated_database_say_to_run_migrate_in_one_line() {
    let db = TestDb::empty().await;
    let out = ihf(&db.url(), &["consumer", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run `ihf-webhooks migrate`"), "{stderr}");
    // The server's words once, not once per layer of the error chain.
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(!stderr.contains("db error: db error"), "{stderr}");
}

#[tokio::test]
async fn a_log_filter_that_would_silence_the_service_stops_startup_naming_rust_log() {
    let db = TestDb::migrated().await;
    for value in ["garbage", "info,hyper=loud"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
            .args(["consumer", "list"])
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "RUST_LOG={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: RUST_LOG: {value:?}")),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn text_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::migrated().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("IHF_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("IHF_LOG_FORMAT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let started = line.contains("ihf-webhooks running");
            let _ = tx.send(line);
            if started {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(crate::harness::WAIT) {
        let started = line.contains("ihf-webhooks running");
        lines.push(line);
        if started {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = lines.join("\n");
    assert!(text.contains("ihf-webhooks running"), "{text}");
    assert!(text.contains(" INFO "), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in: {text:?}");
}

#[test]
fn help_names_the_environment_and_describes_every_flag() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let top = help(&[]);
    for variable in [
        "DATABASE_URL",
        "IHF_LISTEN",
        "IHF_RETRY_SCHEDULE",
        "RUST_LOG",
    ] {
        assert!(top.contains(variable), "--help lacks {variable}:\n{top}");
    }
    for command in [
        &["migrate"][..],
        &["serve"],
        &["consumer", "create"],
        &["key", "create"],
        &["key", "revoke"],
        &["demo"],
    ] {
        let text = help(command);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with('-') {
                continue;
            }
            // "  --name <NAME>  Display name", or the description on the
            // next line, indented deeper (long help).
            let inline = line.trim().split("  ").filter(|p| !p.is_empty()).count() > 1;
            let below = lines.get(i + 1).is_some_and(|next| {
                let text = next.trim();
                !text.is_empty() && !text.starts_with('-')
            });
            assert!(inline || below, "{command:?}: no description for {line:?}");
        }
    }
}

#[test]
fn usage_errors_exit_2_as_the_readme_says() {
    let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .args(["consumer", "create"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains("exit code 1, or 2 for a usage error"),
        "the README's exit codes"
    );
}
