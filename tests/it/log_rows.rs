//! What the delivery log stores (README, "The log"): a delivery's first row
//! carries the envelope, its later rows only `{"id", "type", "timestamp"}`;
//! a 'pending' row only for a delivery that has to wait. Listing and
//! redelivery take the body from the first row; an event whose body the log
//! no longer holds is 410 Gone. Event ids are UUIDv7s of the capture time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ihf_webhooks::db::sql;
use ihf_webhooks::delivery::event_id::event_time;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{
    eventually, problem, test_env, Receiver, Reply, Service, TestApp, TestDb, API_ONLY, BOTH, WAIT,
};

/// A subscription's log rows, oldest first: (status, payload, error_message).
async fn rows_of(app: &TestApp, sub: Uuid) -> Vec<(String, Value, Option<String>)> {
    app.pg
        .query(
            "SELECT status, payload, error_message FROM webhook_deliveries \
             WHERE webhook_subscription_id = $1 ORDER BY attempted_at, status DESC",
            &[&sub],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Once the subscription's log has `n` rows.
async fn rows_once(app: &TestApp, sub: Uuid, n: usize) -> Vec<(String, Value, Option<String>)> {
    eventually(WAIT, &format!("{n} log rows"), || async {
        let rows = rows_of(app, sub).await;
        (rows.len() == n).then_some(rows)
    })
    .await
}

/// The reference a later row stores: the envelope without its body.
fn reference(envelope: &Value) -> Value {
    json!({
        "id": envelope["id"],
        "type": envelope["type"],
        "timestamp": envelope["timestamp"],
    })
}

/// The listing of a subscription's log, newest first.
async fn listed(app: &TestApp, sub: Uuid) -> Vec<Value> {
    let page = app
        .get_json(&format!("/api/v2/webhooks/{sub}/deliveries"))
        .await;
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_delivery_attempted_at_once_logs_one_row_with_the_envelope_and_no_pending_row() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let sent = receiver.wait_for(1, WAIT).await[0].json();
    let rows = rows_once(&app, sub, 1).await;
    assert_eq!(rows[0].0, "delivered");
    assert_eq!(rows[0].1, sent, "the full envelope, as sent");
    assert_eq!(sent["data"]["author"], "ada");
    // The job is gone and nothing else was logged for it.
    eventually(WAIT, "the job ended", || async {
        (app.count("SELECT count(*) FROM ihf_jobs").await == 0).then_some(())
    })
    .await;
    assert_eq!(rows_of(&app, sub).await.len(), 1);
}

#[tokio::test]
async fn a_delivery_that_waits_logs_a_pending_row_with_the_envelope_then_compact_attempts() {
    // One attempt in flight per subscription, and a slow receiver: the first
    // event's job starts, the second's is leased on deck (twice the cap is
    // leased, src/delivery/in_flight.rs), and the third finds no room at
    // fan-out, is kept back in the outbox for 250 ms
    // (src/delivery/keep_back.rs), then is fanned out anyway and waits.
    let app = TestApp::spawn_setting(&[("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", "1")], BOTH).await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::ok_after(Duration::from_millis(1500)));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.pg
        .execute(
            "INSERT INTO annotations (author, body) VALUES ('ada', 'one'), ('ada', 'two'), ('ada', 'three')",
            &[],
        )
        .await
        .unwrap();
    let got = receiver.wait_for(3, WAIT).await;
    let rows = rows_once(&app, sub, 4).await;
    let sent: Vec<Value> = got.iter().map(|r| r.json()).collect();
    // Told apart by their rows, not by arrival: the second may wait on deck
    // longer than the test's short lease lets it, and then it is handed back
    // and claimed again, after the third (still logging nothing until its
    // attempt, which carries the envelope).
    let by_body = |body: &str| sent.iter().find(|e| e["data"]["body"] == body).unwrap();
    let (first, second, third) = (by_body("one"), by_body("two"), by_body("three"));
    assert_eq!(
        sent.iter()
            .map(|e| e["id"].clone())
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );

    let of = |envelope: &Value| -> Vec<(String, Value, Option<String>)> {
        rows.iter()
            .filter(|r| r.1["id"] == envelope["id"])
            .cloned()
            .collect()
    };
    // The first two were leased at fan-out: each one's attempt is its only
    // row, with the envelope.
    for leased in [first, second] {
        let leased_rows = of(leased);
        assert_eq!(leased_rows.len(), 1, "{leased_rows:?}");
        assert_eq!(
            (leased_rows[0].0.as_str(), &leased_rows[0].1),
            ("delivered", leased)
        );
    }
    // The third waited: a 'pending' row with the envelope, then its attempt
    // with the reference only.
    let third_rows = of(third);
    assert_eq!(third_rows.len(), 2, "{third_rows:?}");
    assert_eq!(
        (
            third_rows[0].0.as_str(),
            &third_rows[0].1,
            third_rows[0].2.as_deref()
        ),
        ("pending", third, Some("scheduled: waiting for a free slot"))
    );
    assert_eq!(
        (third_rows[1].0.as_str(), &third_rows[1].1),
        ("delivered", &reference(third))
    );
    // Listed, every row shows its envelope.
    for row in listed(&app, sub).await {
        let envelope = sent.iter().find(|e| e["id"] == row["event_id"]).unwrap();
        assert_eq!(&row["payload"], envelope, "{row}");
    }
}

#[tokio::test]
async fn a_failed_first_attempt_logs_the_envelope_and_its_retry_only_the_reference() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500)]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[0].body, got[1].body, "the retry sends the same body");
    let sent = got[0].json();
    let rows = rows_once(&app, sub, 2).await;
    assert_eq!((rows[0].0.as_str(), &rows[0].1), ("failed", &sent));
    assert_eq!(
        (rows[1].0.as_str(), &rows[1].1),
        ("delivered", &reference(&sent))
    );
    let listed = listed(&app, sub).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["status"], "delivered");
    assert_eq!(listed[0]["payload"], sent, "the retry's row shows the body");
    assert_eq!(listed[1]["payload"], sent);
}

#[tokio::test]
async fn a_redelivery_resends_the_original_envelope_and_its_pending_row_carries_it() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    // The first delivery fails once, so its newest row stores only the
    // reference: the redelivery has to find the body in the first row.
    receiver.script([Reply::status(500)]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let got = receiver.wait_for(2, WAIT).await;
    let event_id = got[0].event_id();
    rows_once(&app, sub, 2).await;

    let response = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/events/{event_id}/redeliver"),
            &app.key,
        )
        .await;
    assert_eq!(response.status(), 202);
    let again = receiver.wait_for(3, WAIT).await;
    assert_eq!(again[2].event_id(), event_id, "the same webhook-id");
    assert_eq!(again[2].body, got[0].body, "the same body");

    let sent = got[0].json();
    let rows = rows_once(&app, sub, 4).await;
    let stored: Vec<_> = rows
        .iter()
        .map(|(status, payload, _)| (status.as_str(), payload.clone()))
        .collect();
    assert_eq!(
        stored,
        [
            ("failed", sent.clone()),
            ("delivered", reference(&sent)),
            // A redelivery is a new delivery: its 'pending' row carries the
            // envelope, its attempt the reference.
            ("pending", sent.clone()),
            ("delivered", reference(&sent)),
        ]
    );
    assert_eq!(rows[2].2.as_deref(), Some("scheduled: manual redelivery"));
    for row in listed(&app, sub).await {
        assert_eq!(row["payload"], sent, "{row}");
    }
}

#[tokio::test]
async fn an_event_whose_first_attempt_is_still_in_flight_can_be_redelivered() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::ok_after(Duration::from_secs(1))]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    let first = receiver.wait_for(1, WAIT).await.remove(0);
    // Leased at fan-out and not answered yet: the log holds nothing of it.
    assert!(rows_of(&app, sub).await.is_empty());
    let response = app
        .send(
            reqwest::Method::POST,
            &format!(
                "/api/v2/webhooks/{sub}/events/{}/redeliver",
                first.event_id()
            ),
            &app.key,
        )
        .await;
    assert_eq!(response.status(), 202, "the job holds the envelope");
    let again = receiver.wait_for(2, WAIT).await.remove(1);
    assert_eq!(
        (again.event_id(), &again.body),
        (first.event_id(), &first.body)
    );
    let sent = first.json();
    let mut stored: Vec<_> = rows_once(&app, sub, 3)
        .await
        .into_iter()
        .map(|(status, payload, _)| (status, payload))
        .collect();
    stored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    // Each delivery's first row carries the envelope: the first attempt's
    // own row, and the redelivery's 'pending' row; the redelivery's attempt
    // only the reference.
    let mut expected = vec![
        ("delivered".to_string(), sent.clone()),
        ("delivered".to_string(), reference(&sent)),
        ("pending".to_string(), sent.clone()),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    assert_eq!(stored, expected);
}

/// Appends a row as the worker would, for an event whose earlier rows are
/// not in the log.
async fn log_row(app: &TestApp, sub: Uuid, status: &str, payload: &Value) {
    app.pg
        .execute(
            "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message) \
             VALUES ($1, $2, $3, 'HTTP 500 Internal Server Error; no retries left')",
            &[&sub, payload, &status],
        )
        .await
        .unwrap();
}

fn micros(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[tokio::test]
async fn a_row_whose_body_row_is_gone_is_listed_as_it_is_and_its_event_is_gone() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    // A retry's row whose first row (past retention, say) is not in the log.
    let orphan = Uuid::now_v7();
    let orphan_ref = json!({
        "id": orphan,
        "type": "annotation.created",
        "timestamp": micros(Utc::now() - chrono::Duration::seconds(5)),
    });
    log_row(&app, sub, "failed", &orphan_ref).await;

    let rows = listed(&app, sub).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_id"], orphan.to_string());
    assert_eq!(rows[0]["event_type"], "annotation.created");
    assert_eq!(rows[0]["status"], "failed");
    assert_eq!(rows[0]["payload"], orphan_ref, "what the row has");

    let gone = problem(
        app.send(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/events/{orphan}/redeliver"),
            &app.key,
        )
        .await,
        410,
    )
    .await;
    let detail = gone["detail"].as_str().unwrap();
    assert!(detail.contains("IHF_DELIVERY_RETENTION"), "{detail}");
    let documented = &ihf_webhooks::api::openapi::document()["paths"]
        ["/api/v2/webhooks/{id}/events/{event_id}/redeliver"]["post"]["responses"];
    assert!(
        documented["410"].is_object(),
        "410 is in the OpenAPI document"
    );
    assert_eq!(app.count("SELECT count(*) FROM ihf_jobs").await, 0);

    // Recovery skips it too, and still takes an event whose body is there.
    let kept = Uuid::now_v7();
    let kept_envelope = json!({
        "id": kept,
        "type": "annotation.created",
        "timestamp": micros(Utc::now() - chrono::Duration::seconds(4)),
        "data": {"author": "ada"},
    });
    log_row(&app, sub, "failed", &kept_envelope).await;
    let recovered = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/recover"),
            &json!({ "since": micros(Utc::now() - chrono::Duration::minutes(1)) }),
        )
        .await;
    assert_eq!(recovered.status(), 202);
    assert_eq!(
        recovered.json::<Value>().await.unwrap(),
        json!({"queued": 1})
    );
    let queued: Vec<Uuid> = app
        .pg
        .query("SELECT event_id FROM ihf_jobs", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(queued, [kept]);
    let pending = app
        .count(
            "SELECT count(*) FROM webhook_deliveries \
             WHERE status = 'pending' AND payload ? 'data' AND error_message = 'scheduled: recovered'",
        )
        .await;
    assert_eq!(
        pending, 1,
        "the recovered delivery's 'pending' row carries the envelope"
    );
}

#[tokio::test]
async fn an_old_event_id_without_rows_is_gone_and_an_unknown_recent_one_not_found() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let (sub, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    let days_ago = |days: i64| {
        let at = Utc::now() - chrono::Duration::days(days);
        uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis() as u64, &[0x5a; 10])
            .into_uuid()
    };
    let old = days_ago(100);
    assert!(event_time(&old).is_some());
    let redeliver = |port: u16, event: Uuid| {
        app.http
            .post(format!(
                "http://127.0.0.1:{port}/api/v2/webhooks/{sub}/events/{event}/redeliver"
            ))
            .bearer_auth(&app.key)
            .send()
    };
    let port = app.service.port;
    // The default retention is 90 days: the log cannot hold it any more.
    let gone = problem(redeliver(port, old).await.unwrap(), 410).await;
    assert!(gone["detail"]
        .as_str()
        .unwrap()
        .contains("IHF_DELIVERY_RETENTION"));
    // Within retention, or an id without a time: never had it.
    for unknown in [days_ago(10), Uuid::now_v7(), Uuid::new_v4()] {
        problem(redeliver(port, unknown).await.unwrap(), 404).await;
    }
    // A log kept forever would still hold it: not found.
    let mut env = test_env(&app.db.url());
    env.insert("IHF_DELIVERY_RETENTION", "forever".into());
    let forever = Service::start(env, API_ONLY).await;
    problem(redeliver(forever.port, old).await.unwrap(), 404).await;
    forever.stop().await;
}

#[tokio::test]
async fn event_ids_are_uuid_v7_of_the_capture_time() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;
    app.insert("annotations").await;
    let got = receiver.wait_for(2, WAIT).await;
    let mut ids = Vec::new();
    for r in &got {
        let body = r.json();
        let id: Uuid = r.event_id().parse().unwrap();
        assert_eq!(id.get_version_num(), 7, "{id}");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        let captured: DateTime<Utc> = body["timestamp"].as_str().unwrap().parse().unwrap();
        let to_the_ms = DateTime::from_timestamp_millis(captured.timestamp_millis()).unwrap();
        assert_eq!(event_time(&id), Some(to_the_ms), "{id} {captured}");
        ids.push((captured, id));
    }
    ids.sort();
    assert!(ids[0].1 < ids[1].1, "ids sort by capture time: {ids:?}");

    // A test event's id is a UUIDv7 too.
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let test = app.post_json(&format!("/api/v2/webhooks/{sub}/test")).await;
    let id: Uuid = test["event_id"].as_str().unwrap().parse().unwrap();
    let at = event_time(&id).expect("a UUIDv7");
    assert!(at >= before && at <= Utc::now(), "{at}");
}

/// A job leased at fan-out whose lease runs out, then is claimed, released
/// and claimed again, logs nothing until an attempt is recorded; that first
/// recorded attempt carries the envelope, and a stale result of the lost
/// attempt is dropped. Statement by statement, as the worker runs them.
#[tokio::test]
async fn expired_and_released_leases_log_nothing_and_keep_the_envelope_for_the_first_row() {
    let db = TestDb::migrated().await;
    db.upkeep().await;
    let client = db.client().await;
    client
        .batch_execute(
            "WITH c AS (INSERT INTO api_consumers (name) VALUES ('c') RETURNING id) \
             INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT id, 'annotation.created', 'https://example.com/hook', \
                    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM c; \
             INSERT INTO annotations (body) VALUES ('first');",
        )
        .await
        .unwrap();
    let replica = Uuid::new_v4();
    let none: (Vec<Uuid>, Vec<i32>) = (Vec::new(), Vec::new());
    let log_rows = || async {
        client
            .query(
                "SELECT status, payload FROM webhook_deliveries ORDER BY attempted_at",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, Value>(1)))
            .collect::<Vec<_>>()
    };

    // Leased at fan-out for a millisecond: nothing logged.
    let leased = client
        .query(
            sql::OUTBOX_FAN_OUT,
            &[
                &10_i64, &10_i64, &1_i64, &replica, &64_i64, &none.0, &none.1, &128_i64, &none.0,
                &none.1, &false,
            ],
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert!(!leased[0].get::<_, bool>("envelope_logged"));
    let envelope: Value = serde_json::from_str(leased[0].get("body")).unwrap();
    let job: i64 = leased[0].get("id");
    assert!(
        log_rows().await.is_empty(),
        "no 'pending' row for a leased job"
    );

    // The lease runs out: handed back, still nothing logged.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        client.execute(sql::JOBS_EXPIRE_LEASES, &[]).await.unwrap(),
        1
    );
    let claim = || async {
        client
            .query(
                sql::JOBS_CLAIM_DUE,
                &[
                    &10_i64,
                    &60_000_i64,
                    &replica,
                    &64_i64,
                    &json!({}),
                    &128_i64,
                    &json!({}),
                    &Uuid::new_v4(),
                ],
            )
            .await
            .unwrap()
    };
    let claimed = claim().await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].get::<_, i32>("attempts"), 2);
    assert!(!claimed[0].get::<_, bool>("envelope_logged"));
    // Released (graceful shutdown), claimed again: still not logged.
    client
        .execute(sql::JOBS_RELEASE, &[&vec![job], &vec![2_i32]])
        .await
        .unwrap();
    let claimed = claim().await;
    assert_eq!(claimed[0].get::<_, i32>("attempts"), 2);
    assert!(!claimed[0].get::<_, bool>("envelope_logged"));
    assert!(log_rows().await.is_empty());

    let finish = |attempt: i32, status: &'static str, retry: bool, logged: bool| {
        let client = &client;
        async move {
            let now = Utc::now();
            let retry_at = retry.then_some(now);
            client
                .execute(
                    sql::JOBS_FINISH,
                    &[
                        &vec![job],
                        &vec![attempt],
                        &vec![status],
                        &vec![Some(500_i32)],
                        &vec![Some(5_i32)],
                        &vec![Some("HTTP 500".to_string())],
                        &vec![now],
                        &vec![retry_at],
                        &vec![logged],
                        &vec![uuid::Uuid::now_v7()],
                    ],
                )
                .await
                .unwrap()
        }
    };
    // The lost first attempt's late result is fenced out.
    assert_eq!(finish(1, "failed", true, false).await, 0);
    assert!(log_rows().await.is_empty());
    // The first recorded attempt carries the envelope and reschedules.
    assert_eq!(finish(2, "failed", true, false).await, 1);
    let claimed = claim().await;
    assert_eq!(claimed.len(), 1);
    assert!(claimed[0].get::<_, bool>("envelope_logged"));
    assert_eq!(finish(3, "delivered", false, true).await, 1);
    assert_eq!(
        log_rows().await,
        [
            ("failed".to_string(), envelope.clone()),
            ("delivered".to_string(), reference(&envelope)),
        ]
    );
}

/// The fan-out statement, as the dispatcher runs it: `slots` free, the
/// subscriptions in `busy` with that many attempts in flight (cap 64),
/// `take_all` as the keep-back decides. (events, jobs, first and last kept).
async fn fan_out(
    client: &tokio_postgres::Client,
    slots: i64,
    busy: &[(Uuid, i32)],
    take_all: bool,
) -> (i64, i64, Option<i64>, Option<i64>) {
    let (subs, counts): (Vec<Uuid>, Vec<i32>) = busy.iter().copied().unzip();
    let none: Vec<Uuid> = Vec::new();
    let no_counts: Vec<i32> = Vec::new();
    let rows = client
        .query(
            sql::OUTBOX_FAN_OUT,
            &[
                &100_i64,
                &slots,
                &60_000_i64,
                &Uuid::new_v4(),
                &64_i64,
                &subs,
                &counts,
                &128_i64,
                &none,
                &no_counts,
                &take_all,
            ],
        )
        .await
        .unwrap();
    let r = &rows[0];
    (
        r.get("events"),
        r.get("jobs"),
        r.get("first_kept"),
        r.get("last_kept"),
    )
}

/// An event that cannot start now (its subscription at its cap) stays in
/// the outbox, logging nothing, until there is room or the dispatcher says
/// to take it anyway: then its job waits, with its 'pending' row.
#[tokio::test]
async fn an_event_that_cannot_start_stays_in_the_outbox_until_room_or_taken_anyway() {
    let db = TestDb::migrated().await;
    db.upkeep().await;
    let client = db.client().await;
    let sub: Uuid = client
        .query_one(
            "WITH c AS (INSERT INTO api_consumers (name) VALUES ('c') RETURNING id) \
             INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT id, 'annotation.created', 'https://example.com/hook', \
                    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM c RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute("INSERT INTO annotations (body) VALUES ('one'), ('two')")
        .await
        .unwrap();
    let count = |table: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let seqs: Vec<i64> = client
        .query("SELECT seq FROM ihf_outbox ORDER BY seq", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();

    // At its cap: both kept back, nothing made, nothing logged.
    assert_eq!(
        fan_out(&client, 10, &[(sub, 64)], false).await,
        (0, 0, Some(seqs[0]), Some(seqs[1]))
    );
    assert_eq!(count("ihf_outbox").await, 2);
    assert_eq!(count("ihf_jobs").await, 0);
    assert_eq!(count("webhook_deliveries").await, 0);

    // Room for one: the first starts, the second stays.
    assert_eq!(
        fan_out(&client, 10, &[(sub, 63)], false).await,
        (1, 1, Some(seqs[1]), Some(seqs[1]))
    );
    assert_eq!(count("ihf_outbox").await, 1);
    assert_eq!(
        count("webhook_deliveries").await,
        0,
        "a leased job logs nothing yet"
    );

    // Kept back too long: taken anyway, and its job waits with a 'pending' row.
    assert_eq!(
        fan_out(&client, 10, &[(sub, 64)], true).await,
        (1, 1, None, None)
    );
    assert_eq!(count("ihf_outbox").await, 0);
    let pending: (String, Value) = client
        .query_one("SELECT status, payload FROM webhook_deliveries", &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(pending.0, "pending");
    assert_eq!(
        pending.1["data"]["body"], "two",
        "the row carries the envelope"
    );

    // An event with more jobs than there are free slots could never start
    // all at once: it is taken, what does not fit waiting.
    client
        .batch_execute(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT api_consumer_id, event_type, target_url, secret FROM webhook_subscriptions; \
             INSERT INTO annotations (body) VALUES ('three')",
        )
        .await
        .unwrap();
    assert_eq!(fan_out(&client, 1, &[], false).await, (1, 2, None, None));
    assert_eq!(
        count("webhook_deliveries").await,
        2,
        "one more 'pending' row"
    );

    // Nor can an event with more jobs for one consumer than its cap (128
    // here; this consumer now has 130 subscriptions): taken, the excess
    // waiting.
    client
        .batch_execute(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT api_consumer_id, event_type, target_url || '/' || g, secret \
               FROM (SELECT * FROM webhook_subscriptions LIMIT 1) s, generate_series(1, 128) g; \
             INSERT INTO annotations (body) VALUES ('four')",
        )
        .await
        .unwrap();
    assert_eq!(count("webhook_subscriptions").await, 130);
    assert_eq!(
        fan_out(&client, 500, &[], false).await,
        (1, 130, None, None)
    );
    assert_eq!(
        count("webhook_deliveries").await,
        4,
        "two more 'pending' rows: 128 started"
    );
}
