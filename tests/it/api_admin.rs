//! The admin routes: consumers and keys, behind the separate `admin` scope.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{insufficient_scope, problem, TestApp, API_ONLY};

#[tokio::test]
async fn admin_routes_need_the_admin_scope_which_no_other_scope_implies() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let everything_else = app
        .key_with("webhooks:read webhooks:write deliveries:read usage:read")
        .await;
    let id = app.consumer_id;
    for (method, path) in [
        (Method::GET, "/api/v2/admin/consumers".to_string()),
        (Method::POST, "/api/v2/admin/consumers".to_string()),
        (Method::GET, format!("/api/v2/admin/consumers/{id}")),
        (Method::PATCH, format!("/api/v2/admin/consumers/{id}")),
        (Method::GET, format!("/api/v2/admin/consumers/{id}/keys")),
        (Method::POST, format!("/api/v2/admin/consumers/{id}/keys")),
        (Method::DELETE, format!("/api/v2/admin/keys/{id}")),
    ] {
        let response = app
            .send_json_as(method.clone(), &path, &everything_else, &json!({}))
            .await;
        insufficient_scope(response, "admin").await;
    }
    // And admin alone grants nothing else.
    let admin = app.key_with("admin").await;
    problem(app.get("/api/v2/webhooks", &admin).await, 403).await;
}

#[tokio::test]
async fn operators_create_list_read_and_change_consumers() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let admin = app.key_with("admin").await;
    let created = app
        .send_json_as(
            Method::POST,
            "/api/v2/admin/consumers",
            &admin,
            &json!({ "name": "acme", "description": "analytics", "rate_limit_per_minute": 120 }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let acme: Value = created.json().await.unwrap();
    assert_eq!(acme["name"], "acme");
    assert_eq!(acme["rate_limit_per_minute"], 120);
    assert_eq!(acme["quota_per_day"], 10000, "the default");
    assert_eq!(acme["is_active"], true);
    let acme_id = acme["id"].as_str().unwrap();

    let page1: Value = app
        .get_json_as("/api/v2/admin/consumers?limit=1", &admin)
        .await;
    assert_eq!(page1["data"][0]["id"], app.consumer_id.to_string());
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_json_as(
            &format!("/api/v2/admin/consumers?limit=1&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(page2["data"][0]["id"], acme_id);
    assert_eq!(page2["next_cursor"], Value::Null);

    let patched: Value = app
        .send_json_as(
            Method::PATCH,
            &format!("/api/v2/admin/consumers/{acme_id}"),
            &admin,
            &json!({ "quota_per_day": 5, "description": "trial" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["quota_per_day"], 5);
    assert_eq!(patched["description"], "trial");
    assert_eq!(patched["rate_limit_per_minute"], 120, "unchanged");
    let read: Value = app
        .get_json_as(&format!("/api/v2/admin/consumers/{acme_id}"), &admin)
        .await;
    assert_eq!(read, patched);

    for (body, field) in [
        (json!({ "name": " " }), "name"),
        (json!({ "name": "x", "quota_per_day": 0 }), "quota_per_day"),
        (
            json!({ "name": "x", "rate_limit_per_minute": -1 }),
            "rate_limit_per_minute",
        ),
        (json!({ "name": "x", "colour": "red" }), "colour"),
        (json!({ "name": 7 }), "invalid type"),
    ] {
        let p = problem(
            app.send_json_as(Method::POST, "/api/v2/admin/consumers", &admin, &body)
                .await,
            422,
        )
        .await;
        assert!(p["detail"].as_str().unwrap().contains(field), "{body}: {p}");
    }
    problem(app.get("/api/v2/admin/consumers/nope", &admin).await, 404).await;
    problem(
        app.get(
            &format!("/api/v2/admin/consumers/{}", uuid::Uuid::new_v4()),
            &admin,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn deactivating_a_consumer_refuses_its_keys_at_once() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let admin = app.key_with("admin").await;
    let (other, other_key) = crate::harness::create_consumer_with_key(&app.pg, "other").await;
    assert_eq!(
        app.get("/api/v2/me", &other_key).await.status(),
        200,
        "cached now"
    );
    let off = app
        .send_json_as(
            Method::PATCH,
            &format!("/api/v2/admin/consumers/{other}"),
            &admin,
            &json!({ "is_active": false }),
        )
        .await;
    assert_eq!(off.status(), 200);
    let refused = problem(app.get("/api/v2/me", &other_key).await, 401).await;
    assert!(refused["detail"].as_str().unwrap().contains("inactive"));
}

#[tokio::test]
async fn keys_are_shown_once_listed_by_prefix_and_revoked_at_once() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let admin = app.key_with("admin").await;
    let id = app.consumer_id;
    let issued = app
        .send_json_as(
            Method::POST,
            &format!("/api/v2/admin/consumers/{id}/keys"),
            &admin,
            &json!({ "scopes": "webhooks:read", "expires_in": 3600 }),
        )
        .await;
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    let key = issued["key"].as_str().unwrap();
    assert!(key.starts_with("ihf_"));
    assert_eq!(issued["key_prefix"], &key[4..12]);
    assert_eq!(issued["scopes"], "webhooks:read");
    assert_eq!(issued["token_type"], "static");
    assert!(issued["expires_at"].is_string());
    assert_eq!(app.get("/api/v2/webhooks", key).await.status(), 200);

    let default_scopes: Value = app
        .send_json_as(
            Method::POST,
            &format!("/api/v2/admin/consumers/{id}/keys"),
            &admin,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        default_scopes["scopes"],
        "webhooks:read webhooks:write deliveries:read usage:read"
    );
    assert_eq!(default_scopes["expires_at"], Value::Null);

    let listed = app
        .get(
            &format!("/api/v2/admin/consumers/{id}/keys?token_type=static"),
            &admin,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(key), "a list never shows a key");
    assert!(!listed.contains(&ihf_webhooks::access::keys::hash_key(key)));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        4,
        "the harness key, the admin key and the two issued"
    );
    let row = rows.iter().find(|r| r["id"] == issued["id"]).unwrap();
    assert_eq!(row["key_prefix"], &key[4..12]);
    assert_eq!(row["revoked_at"], Value::Null);
    assert!(row.get("key").is_none() && row.get("key_hash").is_none());

    let key_id = issued["id"].as_str().unwrap();
    for _ in 0..2 {
        let revoked = app
            .send(
                Method::DELETE,
                &format!("/api/v2/admin/keys/{key_id}"),
                &admin,
            )
            .await;
        assert_eq!(revoked.status(), 204, "revoking is idempotent");
    }
    problem(app.get("/api/v2/webhooks", key).await, 401).await;
    let after: Value = app
        .get_json_as(&format!("/api/v2/admin/consumers/{id}/keys"), &admin)
        .await;
    let row = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == key_id)
        .unwrap()
        .clone();
    assert!(row["revoked_at"].is_string());

    for (body, field) in [
        (json!({ "scopes": "webhooks:delete" }), "scopes"),
        (json!({ "expires_in": 0 }), "expires_in"),
    ] {
        let p = problem(
            app.send_json_as(
                Method::POST,
                &format!("/api/v2/admin/consumers/{id}/keys"),
                &admin,
                &body,
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field);
    }
    problem(
        app.send(
            Method::DELETE,
            &format!("/api/v2/admin/keys/{}", uuid::Uuid::new_v4()),
            &admin,
        )
        .await,
        404,
    )
    .await;
    problem(
        app.get(
            &format!("/api/v2/admin/consumers/{}/keys", uuid::Uuid::new_v4()),
            &admin,
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_revocation_made_elsewhere_takes_effect_within_the_auth_cache_ttl() {
    let app = TestApp::spawn_setting(&[("IHF_AUTH_CACHE_TTL", "300ms")], API_ONLY).await;
    assert_eq!(app.get("/api/v2/me", &app.key).await.status(), 200);
    // As the CLI or another replica would: straight in the database.
    app.pg
        .execute("UPDATE api_keys SET revoked_at = now()", &[])
        .await
        .unwrap();
    let revoked_at = std::time::Instant::now();
    crate::harness::eventually(crate::harness::WAIT, "the revocation to apply", || async {
        (app.get("/api/v2/me", &app.key).await.status() == 401).then_some(())
    })
    .await;
    assert!(
        revoked_at.elapsed() < std::time::Duration::from_millis(2000),
        "within the TTL (plus slack for a loaded machine)"
    );
}
