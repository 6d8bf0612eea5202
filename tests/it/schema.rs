//! The schema itself: statements, the append-only log, the capture trigger.

use std::time::Duration;

use futures_util::StreamExt;
use ihf_webhooks::db::sql;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::harness::{TestApp, TestDb};

#[tokio::test]
async fn every_sql_statement_prepares_against_the_migrated_schema() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    for (file, text) in sql::ALL {
        if let Err(e) = client.prepare(text).await {
            panic!("sql/{file} does not prepare: {e}");
        }
    }
}

#[tokio::test]
async fn the_delivery_log_refuses_update_and_delete() {
    let app = TestApp::spawn().await;
    let client = &app.pg;
    let sub: uuid::Uuid = client
        .query_one(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             VALUES ($1, 'annotation.created', 'https://example.com/', 'whsec_x') RETURNING id",
            &[&app.consumer_id],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status) VALUES ($1, '{}', 'pending')",
            &[&sub],
        )
        .await
        .unwrap();
    let update = client
        .execute("UPDATE webhook_deliveries SET status = 'delivered'", &[])
        .await
        .unwrap_err();
    assert!(format!("{update:?}").contains("append-only"), "{update:?}");
    let delete = client
        .execute("DELETE FROM webhook_deliveries", &[])
        .await
        .unwrap_err();
    assert!(format!("{delete:?}").contains("append-only"), "{delete:?}");
}

#[tokio::test]
async fn capture_records_the_whole_row_in_the_same_transaction() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO requirement_candidates (title, priority) VALUES ('a', 1), ('b', 2)",
        &[],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let events: i64 = client
        .query_one("SELECT count(*) FROM ihf_outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 0, "a rolled-back insert leaves no event");
    client
        .execute(
            "INSERT INTO requirement_candidates (title, priority) VALUES ('a', 1), ('b', 2)",
            &[],
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT event_type, data FROM ihf_outbox ORDER BY data->>'title'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let data: serde_json::Value = rows[0].get(1);
    assert_eq!(rows[0].get::<_, String>(0), "requirement_candidate.created");
    assert_eq!(data["title"], "a");
    assert_eq!(data["priority"], 1);
    assert!(
        data["id"].is_string() && data["created_at"].is_string() && data["status"] == "proposed"
    );
}

/// Runs the fan-out statement in a transaction that is rolled back; the
/// (annotation body, event id) of each job it made.
async fn fan_out_rolled_back(client: &mut tokio_postgres::Client) -> Vec<(String, uuid::Uuid)> {
    let tx = client.transaction().await.unwrap();
    let no_busy: (Vec<uuid::Uuid>, Vec<i32>) = (Vec::new(), Vec::new());
    let rows = tx
        .query(
            sql::OUTBOX_FAN_OUT,
            &[
                &10_i64,
                &10_i64,
                &60_000_i64,
                &uuid::Uuid::new_v4(),
                &64_i64,
                &no_busy.0,
                &no_busy.1,
                &128_i64,
                &no_busy.0,
                &no_busy.1,
            ],
        )
        .await
        .unwrap();
    let mut ids: Vec<(String, uuid::Uuid)> = rows
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(r.get("body")).unwrap();
            let text = body["data"]["body"].as_str().unwrap().to_string();
            (text, r.get("event_id"))
        })
        .collect();
    ids.sort();
    tx.rollback().await.unwrap();
    ids
}

#[tokio::test]
async fn an_event_fanned_out_again_after_a_lost_commit_keeps_its_id() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    client
        .batch_execute(
            "WITH c AS (INSERT INTO api_consumers (name) VALUES ('c') RETURNING id) \
             INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT id, 'annotation.created', 'https://example.com/hook', \
                    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM c; \
             INSERT INTO annotations (body) VALUES ('first'), ('second');",
        )
        .await
        .unwrap();
    // The worker commits asynchronously: a crash can undo a fan-out whose
    // webhooks went out. A rollback loses it the same way.
    let first = fan_out_rolled_back(&mut client).await;
    let again = fan_out_rolled_back(&mut client).await;
    assert_eq!(first.len(), 2);
    assert_ne!(first[0].1, first[1].1);
    assert_eq!(first, again, "the same events, the same ids");
}

#[tokio::test]
async fn the_capture_trigger_notifies_only_while_a_worker_waits() {
    let db = TestDb::migrated().await;
    let writer = db.client().await;
    let (listener, mut connection) = tokio_postgres::connect(&db.url(), NoTls).await.unwrap();
    let (tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.channel().to_string());
            }
        }
    });
    listener.batch_execute("LISTEN ihf_events").await.unwrap();

    writer
        .execute("INSERT INTO annotations (body) VALUES ('quiet')", &[])
        .await
        .unwrap();
    // A worker waits: it holds the doorbell lock exclusively on its LISTEN
    // connection (here, the test's listener).
    listener
        .simple_query("SELECT pg_advisory_lock(-1732109582, 1)")
        .await
        .unwrap();
    writer
        .execute("INSERT INTO annotations (body) VALUES ('ring')", &[])
        .await
        .unwrap();
    // The notification of the second insert arrives; had the first rung, it
    // would have been delivered (in commit order) before this one.
    let first = tokio::time::timeout(Duration::from_secs(10), notifications.recv())
        .await
        .expect("a waiting worker is rung");
    assert_eq!(first.as_deref(), Some("ihf_events"));
    listener
        .simple_query("SELECT pg_advisory_unlock(-1732109582, 1)")
        .await
        .unwrap();
    writer
        .execute("INSERT INTO annotations (body) VALUES ('quiet again')", &[])
        .await
        .unwrap();
    // A round trip on the listener connection flushes any pending notification.
    listener.simple_query("SELECT 1").await.unwrap();
    assert!(
        notifications.try_recv().is_err(),
        "a released lock rings nothing"
    );
    assert_eq!(
        writer
            .query_one("SELECT count(*) FROM ihf_outbox", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        3,
        "every insert is captured, rung or not"
    );
}
