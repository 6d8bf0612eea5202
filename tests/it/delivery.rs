//! Capture → signed delivery, end to end.

use std::time::Duration;

use ihf_webhooks::capture::event_types::EVENT_TYPES;
use serde_json::json;
use standardwebhooks::Webhook;

use ihf_webhooks::delivery::signing::{self, Secret};

use crate::harness::{
    eventually, Receiver, Reply, Service, TestApp, API_ONLY, BOTH, VECTORS, WAIT,
};

fn verify(secret: &str, received: &crate::harness::receiver::Received) {
    Webhook::new(secret)
        .unwrap()
        .verify(&received.body, &received.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
}

#[tokio::test]
async fn a_row_in_each_source_table_arrives_once_signed_and_verifiable() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let mut secrets = std::collections::HashMap::new();
    for t in EVENT_TYPES {
        let (_, secret) = app.subscribe(t.name, &receiver.url()).await;
        secrets.insert(t.name, secret);
    }
    let mut row_ids = Vec::new();
    for t in EVENT_TYPES {
        row_ids.push((t.name, app.insert(t.table).await));
    }

    let got = receiver.wait_for(6, WAIT).await;
    for (event_type, row_id) in &row_ids {
        let matching: Vec<_> = got
            .iter()
            .filter(|r| r.json()["type"] == *event_type)
            .collect();
        assert_eq!(matching.len(), 1, "{event_type} should arrive exactly once");
        let r = matching[0];
        verify(&secrets[event_type], r);
        let body = r.json();
        assert_eq!(body["data"]["id"], json!(row_id.to_string()));
        assert_eq!(
            body["id"],
            json!(r.event_id()),
            "webhook-id is the event id"
        );
        assert_eq!(r.header("content-type"), "application/json");
        assert!(r.header("user-agent").starts_with("ihf-webhooks/"));
        let ts = body["timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && ts.len() == "2026-01-01T00:00:00.000000Z".len(),
            "{ts}"
        );
    }
    // Nothing more arrives once the log says every job is done.
    eventually(WAIT, "all six delivered in the log", || async {
        (app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .await
            == 6)
            .then_some(())
    })
    .await;
    assert_eq!(receiver.received().len(), 6);
}

#[tokio::test]
async fn our_signatures_match_the_reference_vectors_and_library() {
    for v in &VECTORS {
        // The server's signing path: the header it puts on a delivery.
        let ours = signing::signature_header(
            [Secret::parse(v.secret).unwrap()],
            v.id,
            v.timestamp,
            v.body.as_bytes(),
        );
        assert_eq!(ours, v.signature);
        let theirs = Webhook::new(v.secret)
            .unwrap()
            .sign(v.id, v.timestamp, v.body.as_bytes())
            .unwrap();
        assert_eq!(ours, theirs);
    }
}

#[tokio::test]
async fn a_multi_row_insert_produces_one_webhook_per_row() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (_, secret) = app.subscribe("annotation.created", &receiver.url()).await;
    app.pg
        .execute(
            "INSERT INTO annotations (body) SELECT 'note ' || n FROM generate_series(1, 25) n",
            &[],
        )
        .await
        .unwrap();
    let got = receiver.wait_for(25, WAIT).await;
    let mut bodies: Vec<String> = got
        .iter()
        .map(|r| {
            verify(&secret, r);
            r.json()["data"]["body"].as_str().unwrap().to_string()
        })
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 25, "each row once");
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.event_id()).collect();
    assert_eq!(ids.len(), 25, "each row is its own event");
}

#[tokio::test]
async fn inactive_subscriptions_and_consumers_get_nothing() {
    let app = TestApp::spawn().await;
    let live = Receiver::start().await;
    let paused = Receiver::start().await;
    let other_consumer = Receiver::start().await;
    app.subscribe("decision_record.created", &live.url()).await;
    let (paused_id, _) = app
        .subscribe("decision_record.created", &paused.url())
        .await;
    let response = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v2/webhooks/{paused_id}"),
            &json!({ "is_active": false }),
        )
        .await;
    assert_eq!(response.status(), 200);
    // A second consumer, subscribed and then deactivated by an operator.
    let (consumer_b, key_b) = crate::harness::create_consumer_with_key(&app.pg, "b").await;
    let response = app
        .send_json_as(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &key_b,
            &json!({ "event_type": "decision_record.created", "target_url": other_consumer.url() }),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.pg
        .execute(
            "UPDATE api_consumers SET is_active = false WHERE id = $1",
            &[&consumer_b],
        )
        .await
        .unwrap();

    app.insert("decision_records").await;
    live.wait_for(1, WAIT).await;
    // Fan-out of one event is one statement: had the others been targeted,
    // their jobs would exist now. Wait for the queue to empty, then check.
    eventually(WAIT, "job queue empty", || async {
        (app.count("SELECT count(*) FROM ihf_jobs").await == 0).then_some(())
    })
    .await;
    assert!(paused.received().is_empty());
    assert!(other_consumer.received().is_empty());
    assert_eq!(app.log(paused_id).await, vec![]);
}

#[tokio::test]
async fn a_retry_comes_due_and_is_sent_while_a_stream_keeps_the_worker_busy() {
    let app = TestApp::spawn().await;
    let failing = Receiver::start().await;
    failing.script([Reply::status(500)]);
    let healthy = Receiver::start().await;
    let (sub, _) = app
        .subscribe("outcome_signal.created", &failing.url())
        .await;
    app.subscribe("interaction_event.created", &healthy.url())
        .await;
    app.insert("outcome_signals").await;
    // Other events back to back until the retry (due 100 ms after the first
    // attempt) arrives: a dispatcher busy with a stream polls instead of
    // sleeping, so only its periodic claim can find the retry.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut streamed = 0;
    while failing.received().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retry within {WAIT:?} while {streamed} other events streamed"
        );
        app.insert("interaction_events").await;
        streamed += 1;
    }
    healthy.wait_for(streamed, WAIT).await;
    let log = eventually(WAIT, "the retry recorded", || async {
        let log = app.log(sub).await;
        (log.len() == 2).then_some(log)
    })
    .await;
    let steps: Vec<_> = log
        .iter()
        .map(|(status, code, _)| (status.as_str(), *code))
        .collect();
    assert_eq!(steps, [("failed", Some(500)), ("delivered", Some(200))]);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_schedule_and_the_log_shows_each_step() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500), Reply::status(500)]);
    let (sub, secret) = app
        .subscribe("outcome_signal.created", &receiver.url())
        .await;
    app.insert("outcome_signals").await;

    let got = receiver.wait_for(3, WAIT).await;
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.event_id()).collect();
    assert_eq!(ids.len(), 1, "retries keep the same webhook-id");
    for r in &got {
        verify(&secret, r);
    }
    // Schedule is 100ms, 200ms (±10 % jitter).
    let gap1 = got[1].at - got[0].at;
    let gap2 = got[2].at - got[1].at;
    assert!(gap1 >= Duration::from_millis(90), "{gap1:?}");
    assert!(gap2 >= Duration::from_millis(180), "{gap2:?}");

    let log = eventually(WAIT, "delivered row", || async {
        let log = app.log(sub).await;
        (log.len() == 3).then_some(log)
    })
    .await;
    // Attempted at once, so no 'pending' row: one row per attempt.
    assert_eq!((log[0].0.as_str(), log[0].1), ("failed", Some(500)));
    let msg = log[0].2.as_deref().unwrap();
    assert!(
        msg.starts_with("HTTP 500 Internal Server Error; retry 1 of 2 at "),
        "{msg}"
    );
    assert_eq!((log[1].0.as_str(), log[1].1), ("failed", Some(500)));
    assert_eq!((log[2].0.as_str(), log[2].1), ("delivered", Some(200)));
    let payload_ids = app
        .count(&format!(
            "SELECT count(DISTINCT payload->>'id') FROM webhook_deliveries WHERE webhook_subscription_id = '{sub}'"
        ))
        .await;
    assert_eq!(
        payload_ids, 1,
        "payload->>'id' ties the rows of one event together"
    );
}

#[tokio::test]
async fn after_the_last_retry_the_delivery_is_finally_failed() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(503));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    receiver.wait_for(3, WAIT).await;
    let log = eventually(WAIT, "three failed attempts", || async {
        let log = app.log(sub).await;
        (log.len() == 3).then_some(log)
    })
    .await;
    assert!(log.iter().all(|(status, ..)| status == "failed"), "{log:?}");
    let last = log[2].2.as_deref().unwrap();
    assert!(last.contains("no retries left"), "{last}");
    assert_eq!(app.count("SELECT count(*) FROM ihf_jobs").await, 0);
}

#[tokio::test]
async fn an_event_inserted_while_no_worker_runs_is_delivered_when_one_starts() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    app.subscribe("deployment_record.created", &receiver.url())
        .await;
    let row = app.insert("deployment_records").await;
    assert_eq!(
        app.count("SELECT count(*) FROM ihf_outbox").await,
        1,
        "captured durably"
    );

    let worker = Service::start(crate::harness::test_env(&app.db.url()), BOTH).await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["data"]["id"], json!(row.to_string()));
    worker.stop().await;
}

#[tokio::test]
async fn a_notify_lost_to_a_dropped_listener_only_costs_latency() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    app.subscribe("interaction_event.created", &receiver.url())
        .await;
    app.insert("interaction_events").await;
    receiver.wait_for(1, WAIT).await;

    // Cut the listener and insert at once, before it can reconnect.
    let killed = app
        .count(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'ihf-webhooks-listener'",
        )
        .await;
    assert_eq!(killed, 1, "one listener connection");
    app.insert("interaction_events").await;
    receiver.wait_for(2, WAIT).await;
    // And it reconnected: a third event is delivered too.
    eventually(WAIT, "listener back", || async {
        (app.count(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ihf-webhooks-listener'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    app.insert("interaction_events").await;
    receiver.wait_for(3, WAIT).await;
}

#[tokio::test]
async fn a_private_target_is_refused_at_delivery_unless_allowed() {
    // Subscribed while allowed (API-only replica), delivered by a worker that
    // does not allow private targets: the attempt is refused and logged.
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    let mut env = crate::harness::test_env(&app.db.url());
    env.insert("IHF_ALLOW_PRIVATE_TARGETS", "false".into());
    env.insert("IHF_RETRY_SCHEDULE", "none".into());
    let strict_worker = Service::start(env, BOTH).await;
    app.insert("annotations").await;
    let log = eventually(WAIT, "refused attempt", || async {
        let log = app.log(sub).await;
        (log.len() == 1).then_some(log)
    })
    .await;
    let msg = log[0].2.as_deref().unwrap();
    assert_eq!(log[0].0, "failed");
    assert!(
        msg.starts_with("target address 127.0.0.1 is not allowed (loopback)"),
        "{msg}"
    );
    assert!(receiver.received().is_empty());
    strict_worker.stop().await;
}

#[tokio::test]
async fn the_doorbell_rings_only_while_a_worker_waits() {
    const HELD: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
        AND classid = (-1732109582)::oid AND objid = 1 AND mode = 'ExclusiveLock' AND granted \
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    // No worker: nobody holds the doorbell lock, so the capture trigger does not notify.
    assert_eq!(app.count(HELD).await, 0);
    let worker = Service::start(crate::harness::test_env(&app.db.url()), BOTH).await;
    eventually(WAIT, "an idle worker takes the doorbell lock", || async {
        (app.count(HELD).await == 1).then_some(())
    })
    .await;
    worker.stop().await;
    eventually(
        WAIT,
        "a stopped worker's lock goes with its connection",
        || async { (app.count(HELD).await == 0).then_some(()) },
    )
    .await;
}

/// Readiness means armed. A framework transaction that inserted holds the
/// doorbell lock shared while the worker starts, so the worker cannot take
/// it at first; `/readyz` says ready only once the worker watches anyway,
/// and rows committed right after that, or once it has settled, are
/// delivered at once, not at the next backstop poll (a minute here).
#[tokio::test]
async fn events_committed_right_after_readyz_says_ready_are_woken_without_the_backstop_poll() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let receiver = Receiver::start().await;
    app.subscribe("annotation.created", &receiver.url()).await;
    let mut long = app.db.client().await;
    let open = long.transaction().await.unwrap();
    open.execute(
        "INSERT INTO annotations (author, body) VALUES ('slow', 'still open')",
        &[],
    )
    .await
    .unwrap();

    let mut env = crate::harness::test_env(&app.db.url());
    env.insert("IHF_POLL_INTERVAL", "60s".into());
    let worker = Service::start(env, BOTH).await;
    let ready = format!("http://127.0.0.1:{}/readyz", worker.port);
    eventually(WAIT, "the worker is ready", || async {
        let r = reqwest::get(&ready).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    for _ in 0..5 {
        app.insert("annotations").await;
    }
    receiver.wait_for(5, Duration::from_secs(10)).await;
    // And once the worker has settled, still without the poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        app.insert("annotations").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.wait_for(10, Duration::from_secs(10)).await;

    open.commit().await.unwrap();
    receiver.wait_for(11, Duration::from_secs(10)).await;
    worker.stop().await;
}
