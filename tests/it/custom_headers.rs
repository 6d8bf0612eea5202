//! Custom headers: sent with deliveries, test events and redeliveries;
//! reserved names refused; values never shown.

use serde_json::{json, Value};

use crate::harness::{eventually, problem, Receiver, TestApp, WAIT};

const TOKEN: &str = "Bearer gateway-t0ken-that-must-not-leak";

#[tokio::test]
async fn custom_headers_arrive_on_deliveries_test_events_and_redeliveries() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let response = app
        .send_json(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &json!({
                "event_type": "annotation.created",
                "target_url": receiver.url(),
                "headers": {"Authorization": TOKEN, "X-Api-Key": "k-123-secret"},
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(TOKEN) && !text.contains("k-123-secret"),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        created["headers"],
        json!({"authorization": "***", "x-api-key": "***"})
    );
    let sub = created["id"].as_str().unwrap().to_string();

    app.insert("annotations").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].header("authorization"), TOKEN);
    assert_eq!(got[0].header("x-api-key"), "k-123-secret");

    let test = app.post_json(&format!("/api/v2/webhooks/{sub}/test")).await;
    assert_eq!(test["delivered"], true, "{test}");
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got[1].header("authorization"), TOKEN);

    let event_id = got[0].event_id();
    let redeliver = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v2/webhooks/{sub}/events/{event_id}/redeliver"),
            &app.key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 202);
    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got[2].event_id(), event_id);
    assert_eq!(got[2].header("x-api-key"), "k-123-secret");

    // Reading never shows a value.
    for path in [format!("/api/v2/webhooks/{sub}"), "/api/v2/webhooks".into()] {
        let text = app.get(&path, &app.key).await.text().await.unwrap();
        assert!(
            !text.contains(TOKEN) && !text.contains("k-123-secret"),
            "{text}"
        );
        assert!(text.contains(r#""authorization":"***""#), "{text}");
    }

    // PATCH replaces the whole set.
    let changed: Value = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v2/webhooks/{sub}"),
            &json!({"headers": {"X-Tenant": "t-42"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["headers"], json!({"x-tenant": "***"}));
    app.insert("annotations").await;
    let got = receiver.wait_for(4, WAIT).await;
    assert_eq!(got[3].header("x-tenant"), "t-42");
    assert_eq!(got[3].header("authorization"), "");
    let stored: Value = eventually(WAIT, "stored headers", || async {
        app.pg
            .query_opt("SELECT headers FROM webhook_subscriptions", &[])
            .await
            .unwrap()
            .map(|r| r.get(0))
    })
    .await;
    assert_eq!(stored, json!({"x-tenant": "t-42"}));
}

#[tokio::test]
async fn reserved_and_malformed_custom_headers_are_refused_naming_them() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let create = |headers: Value| json!({"event_type": "annotation.created", "target_url": receiver.url(), "headers": headers});
    let body = problem(
        app.send_json(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &create(json!({"Webhook-Signature": "v1,x", "Host": "evil", "X-Ok": "1"})),
        )
        .await,
        422,
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Host") && detail.contains("Webhook-Signature") && !detail.contains("X-Ok"),
        "{detail}"
    );
    assert_eq!(body["errors"][0]["field"], "headers");

    for bad in [
        json!({"Transfer-Encoding": "chunked"}),
        json!({"bad name": "x"}),
        json!({"X-A": "line\r\nbreak"}),
        Value::Object((0..21).map(|i| (format!("x-h{i}"), json!("v"))).collect()),
    ] {
        problem(
            app.send_json(reqwest::Method::POST, "/api/v2/webhooks", &create(bad))
                .await,
            422,
        )
        .await;
    }
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    problem(
        app.send_json(
            reqwest::Method::PATCH,
            &format!("/api/v2/webhooks/{sub}"),
            &json!({"headers": {"Content-Type": "text/plain"}}),
        )
        .await,
        422,
    )
    .await;
}
