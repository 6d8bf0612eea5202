//! Secret rotation, test events and redelivery.

use serde_json::{json, Value};
use standardwebhooks::Webhook;

use crate::harness::{eventually, Receiver, Reply, TestApp, WAIT};

#[tokio::test]
async fn a_rotated_secret_signs_alongside_the_old_one_during_the_grace_period() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, old) = app.subscribe("annotation.created", &receiver.url()).await;
    let rotated: Value = app
        .post_json(&format!("/api/v2/webhooks/{sub}/secret/rotate"))
        .await;
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());

    app.insert("annotations").await;
    let got = receiver.wait_for(1, WAIT).await;
    let signature = got[0].header("webhook-signature");
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    assert!(signature.split(' ').all(|item| item.starts_with("v1,")));
    for secret in [new, old.as_str()] {
        Webhook::new(secret)
            .unwrap()
            .verify(&got[0].body, &got[0].headers)
            .expect("both secrets verify");
    }

    // Once the grace period is over, only the new secret signs.
    app.pg
        .execute(
            "UPDATE webhook_subscriptions SET previous_secret_expires_at = now()",
            &[],
        )
        .await
        .unwrap();
    app.insert("annotations").await;
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    Webhook::new(new)
        .unwrap()
        .verify(&got[1].body, &got[1].headers)
        .unwrap();
    assert!(Webhook::new(&old)
        .unwrap()
        .verify(&got[1].body, &got[1].headers)
        .is_err());

    let bad = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/secret/rotate"),
            &json!({ "secret": "whsec_short" }),
        )
        .await;
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn a_test_event_is_sent_now_and_its_outcome_returned_and_logged() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, secret) = app
        .subscribe("deployment_record.created", &receiver.url())
        .await;
    let ok: Value = app.post_json(&format!("/api/v2/webhooks/{sub}/test")).await;
    assert_eq!(ok["delivered"], true);
    assert_eq!(ok["response_code"], 200);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    Webhook::new(&secret)
        .unwrap()
        .verify(&got[0].body, &got[0].headers)
        .unwrap();
    assert_eq!(got[0].json()["type"], "deployment_record.created");
    assert_eq!(got[0].json()["data"]["test"], true);
    assert_eq!(got[0].event_id(), ok["event_id"].as_str().unwrap());

    receiver.script([Reply::status(500)]);
    let failed: Value = app.post_json(&format!("/api/v2/webhooks/{sub}/test")).await;
    assert_eq!(failed["delivered"], false);
    assert_eq!(
        failed["error_message"],
        "test event: HTTP 500 Internal Server Error; not retried"
    );
    let log = app.log(sub).await;
    assert_eq!(
        log.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["delivered", "failed"]
    );
}

#[tokio::test]
async fn redelivery_sends_the_same_event_again_with_the_same_webhook_id() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let (sub, _) = app
        .subscribe("outcome_signal.created", &receiver.url())
        .await;
    app.insert("outcome_signals").await;
    let first = receiver.wait_for(1, WAIT).await;
    let event_id = first[0].event_id();
    eventually(WAIT, "first delivery recorded", || async {
        (app.log(sub).await.len() == 1).then_some(())
    })
    .await;

    let response = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/events/{event_id}/redeliver"),
            &app.key,
        )
        .await;
    assert_eq!(response.status(), 202);
    let again = receiver.wait_for(2, WAIT).await;
    assert_eq!(again[1].event_id(), event_id);
    assert_eq!(again[1].body, first[0].body, "the same envelope");
    let log = eventually(WAIT, "redelivery recorded", || async {
        let log = app.log(sub).await;
        (log.len() == 3).then_some(log)
    })
    .await;
    // The first delivery (attempted at once: one row), then the redelivery's
    // 'pending' row and its attempt.
    assert_eq!(log[0].0, "delivered");
    assert_eq!(log[1].0, "pending");
    assert_eq!(log[1].2.as_deref(), Some("scheduled: manual redelivery"));
    assert_eq!(log[2].0, "delivered");

    let unknown = app
        .send(
            reqwest::Method::POST,
            &format!(
                "/api/v2/webhooks/{sub}/events/{}/redeliver",
                uuid::Uuid::new_v4()
            ),
            &app.key,
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let (_, other_key) = crate::harness::create_consumer_with_key(&app.pg, "other").await;
    let foreign = app
        .send(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/events/{event_id}/redeliver"),
            &other_key,
        )
        .await;
    assert_eq!(foreign.status(), 404, "another consumer's subscription");
}
