//! `/api/v2/webhooks`: auth, scopes, validation, isolation between consumers.

use serde_json::{json, Value};

use crate::harness::{create_consumer_with_key, insufficient_scope, problem, Receiver, TestApp};

#[tokio::test]
async fn requests_without_valid_credentials_get_bearer_challenges() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/v2/webhooks");
    let none = app.http.get(&url).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer realm=\"ihf\"");
    problem(none, 401).await;

    let wrong = app
        .http
        .get(&url)
        .bearer_auth("ihf_0000000000000000000000000000000000000000000000000000000000000000")
        .send()
        .await
        .unwrap();
    let challenge = wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"ihf\", error=\"invalid_token\""),
        "{challenge}"
    );
    problem(wrong, 401).await;

    // Each state of the key or its consumer, and the word the 401 names it by.
    for (sql, word) in [
        ("UPDATE api_keys SET revoked_at = now()", "revoked"),
        (
            "UPDATE api_keys SET revoked_at = NULL, expires_at = now() - interval '1 s'",
            "expired",
        ),
        (
            "UPDATE api_keys SET expires_at = NULL; UPDATE api_consumers SET is_active = false",
            "inactive",
        ),
    ] {
        app.pg.batch_execute(sql).await.unwrap();
        let refused = app.get("/api/v2/webhooks", &app.key).await;
        let detail = problem(refused, 401).await["detail"].to_string();
        assert!(detail.contains(word), "{sql}: {detail}");
    }
}

#[tokio::test]
async fn a_key_without_the_scope_gets_403_naming_it() {
    let app = TestApp::spawn().await;
    app.pg
        .execute("UPDATE api_keys SET scopes = 'webhooks:read'", &[])
        .await
        .unwrap();
    let response = app
        .send_json(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &json!({ "event_type": "annotation.created", "target_url": "http://127.0.0.1:9/" }),
        )
        .await;
    insufficient_scope(response, "webhooks:write").await;
}

#[tokio::test]
async fn subscriptions_can_be_created_listed_read_changed_and_deleted() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let created = app.send_json(reqwest::Method::POST, "/api/v2/webhooks", &json!({ "event_type": "annotation.created", "target_url": receiver.url(), "secret": secret })).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["secret"], secret, "a valid supplied secret is kept");
    assert_eq!(created["is_active"], true);
    let id = created["id"].as_str().unwrap().to_string();
    let (second, generated) = app
        .subscribe("outcome_signal.created", &receiver.url())
        .await;
    assert!(generated.starts_with("whsec_"));

    let one: Value = app.get_json(&format!("/api/v2/webhooks/{id}")).await;
    assert_eq!(one["target_url"], receiver.url());
    assert!(
        one.get("secret").is_none(),
        "the secret is shown only at creation"
    );

    // Pages of one: the cursor walks through both.
    let page1: Value = app.get_json("/api/v2/webhooks?limit=1").await;
    assert_eq!(page1["data"].as_array().unwrap().len(), 1);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_json(&format!("/api/v2/webhooks?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page2["data"][0]["id"], second.to_string());
    assert_eq!(page2["next_cursor"], Value::Null);

    let patched: Value = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v2/webhooks/{id}"),
            &json!({ "is_active": false, "target_url": format!("{}/v2", receiver.url()) }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["is_active"], false);
    assert_eq!(patched["target_url"], format!("{}/v2", receiver.url()));

    let deleted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/webhooks/{id}"),
            &app.key,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = app.get(&format!("/api/v2/webhooks/{id}"), &app.key).await;
    problem(gone, 404).await;
    let list: Value = app.get_json("/api/v2/webhooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_bodies_get_422_problems_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({ "event_type": "user.deleted", "target_url": "http://127.0.0.1:9/hook" }),
            "event_type",
        ),
        (
            json!({ "event_type": "annotation.created", "target_url": "ftp://example.com/" }),
            "target_url",
        ),
        (
            json!({ "event_type": "annotation.created", "target_url": "http://127.0.0.1:9/hook", "secret": "whsec_dG9vIHNob3J0" }),
            "secret",
        ),
        (
            json!({ "event_type": "annotation.created", "target_url": "http://127.0.0.1:9/hook", "colour": "red" }),
            "colour",
        ),
        (json!({ "event_type": "annotation.created" }), "target_url"),
        (
            json!({ "event_type": 7, "target_url": "http://127.0.0.1:9/hook" }),
            "invalid type",
        ),
    ];
    for (body, named) in cases {
        let p = problem(
            app.send_json(reqwest::Method::POST, "/api/v2/webhooks", &body)
                .await,
            422,
        )
        .await;
        assert!(
            p["detail"].as_str().unwrap().contains(named),
            "{body} → {p}"
        );
    }
    let not_json = app
        .http
        .post(app.url("/api/v2/webhooks"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(not_json, 400).await;
    let not_uuid = app.get("/api/v2/webhooks/not-a-uuid", &app.key).await;
    problem(not_uuid, 404).await;
}

#[tokio::test]
async fn private_targets_are_refused_at_subscribe_time_unless_allowed() {
    let app = TestApp::spawn_setting(
        &[("IHF_ALLOW_PRIVATE_TARGETS", "false")],
        crate::harness::BOTH,
    )
    .await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/latest",
    ] {
        let response = app
            .send_json(
                reqwest::Method::POST,
                "/api/v2/webhooks",
                &json!({ "event_type": "annotation.created", "target_url": url }),
            )
            .await;
        let p = problem(response, 422).await;
        assert_eq!(p["errors"][0]["field"], "target_url", "{url}");
        assert!(
            p["detail"].as_str().unwrap().contains("not allowed"),
            "{url}: {p}"
        );
    }
}

#[tokio::test]
async fn another_consumers_subscriptions_are_404_and_never_listed() {
    let app = TestApp::spawn().await;
    let (mine, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hook")
        .await;
    let (_, other_key) = create_consumer_with_key(&app.pg, "intruder").await;
    let path = format!("/api/v2/webhooks/{mine}");
    let get = app.get(&path, &other_key).await;
    problem(get, 404).await;
    let patch = app
        .send_json_as(
            reqwest::Method::PATCH,
            &path,
            &other_key,
            &json!({ "is_active": false }),
        )
        .await;
    problem(patch, 404).await;
    let delete = app.send(reqwest::Method::DELETE, &path, &other_key).await;
    problem(delete, 404).await;
    let list: Value = app.get_json_as("/api/v2/webhooks", &other_key).await;
    assert_eq!(list["data"], json!([]));
    let still: Value = app.get_json(&path).await;
    assert_eq!(still["is_active"], true, "untouched by the other consumer");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = crate::harness::eventually(crate::harness::WAIT, "ready", || async {
        let r = app.http.get(app.url("/readyz")).send().await.unwrap();
        (r.status() == 200).then_some(r)
    })
    .await;
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["listener"], "ok");
}

#[tokio::test]
async fn a_supplied_secret_is_stored_without_the_white_space_around_it() {
    // Secrets pasted from a file or an environment file often end in a
    // newline; the server parses them with the SDK's rules, so both trim.
    let app = TestApp::spawn().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let response = app
        .send_json(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            &json!({ "event_type": "annotation.created", "target_url": "http://127.0.0.1:9/hook", "secret": format!(" {secret}\n") }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["secret"], secret);
    let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let stored: String = app
        .pg
        .query_one(
            "SELECT secret FROM webhook_subscriptions WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, secret);
}
