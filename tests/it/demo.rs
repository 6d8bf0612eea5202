//! `ihf-webhooks demo` run as a new user would, with DATABASE_URL pointing at
//! the test server: six verified deliveries on screen, nothing left behind.

use std::process::Command;

use crate::harness::db::url_for;

const EVENT_TYPES: [&str; 6] = [
    "interaction_event.created",
    "annotation.created",
    "requirement_candidate.created",
    "decision_record.created",
    "deployment_record.created",
    "outcome_signal.created",
];

#[tokio::test]
async fn demo_shows_six_verified_deliveries_and_drops_its_database() {
    let out = Command::new(env!("CARGO_BIN_EXE_ihf-webhooks"))
        .arg("demo")
        .env("DATABASE_URL", url_for("postgres"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    let verified: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("delivery:") && l.ends_with("signature verified: yes"))
        .collect();
    assert_eq!(verified.len(), 6, "{stdout}");
    for event_type in EVENT_TYPES {
        assert_eq!(
            verified.iter().filter(|l| l.contains(event_type)).count(),
            1,
            "one verified {event_type} delivery:\n{stdout}"
        );
    }
    assert!(!stdout.contains("verified: NO"), "{stdout}");
    assert!(
        stdout.contains("6 'delivered' (one per attempt)"),
        "{stdout}"
    );
    assert!(stdout.contains("deliveries still queued: 0"), "{stdout}");
    let shows_a_key = |text: &str| {
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|w| {
                w.strip_prefix("ihf_")
                    .is_some_and(|r| r.len() == 64 && r.bytes().all(|b| b.is_ascii_hexdigit()))
            })
    };
    for text in [&stdout, &stderr] {
        assert!(!shows_a_key(text), "an API key was printed:\n{text}");
        assert!(!text.contains("whsec_"), "a secret was printed:\n{text}");
    }

    let name = stdout
        .split_whitespace()
        .find(|w| w.starts_with("ihf_demo_"))
        .expect("the demo names its database");
    let (client, conn) = tokio_postgres::connect(&url_for("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let left = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap();
    assert!(left.is_none(), "{name} was dropped at exit");
}
