//! `POST /api/v2/token`: OAuth 2.0 client credentials per RFC 6749, with our
//! own requests and with stock Python clients.

use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{insufficient_scope, problem, TestApp};

/// Posts a form to the token endpoint, optionally with HTTP Basic.
async fn token_request(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.http.post(app.url("/api/v2/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

/// An RFC 6749 error response: status, JSON body with `error`, no caching.
async fn oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
    body
}

#[tokio::test]
async fn basic_client_authentication_issues_a_bearer_token_with_the_requested_scopes() {
    let app = TestApp::spawn().await;
    let id = app.consumer_id.to_string();
    let response = token_request(
        &app,
        Some((&id, &app.key)),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "webhooks:read"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert!(response.headers().contains_key("ratelimit"));
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["scope"], "webhooks:read");
    assert!(token.get("refresh_token").is_none());
    let access = token["access_token"].as_str().unwrap();
    assert!(
        access.starts_with("ihf_")
            && access
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    );

    let row = app
        .pg
        .query_one(
            "SELECT token_type, scopes, expires_at > now() + interval '59 minutes', \
                    expires_at < now() + interval '61 minutes', issued_from IS NOT NULL \
               FROM api_keys WHERE key_hash = $1",
            &[&ihf_webhooks::access::keys::hash_key(access)],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "oauth");
    assert_eq!(row.get::<_, String>(1), "webhooks:read");
    assert!(
        row.get::<_, bool>(2) && row.get::<_, bool>(3),
        "expires in 1 h"
    );
    assert!(
        row.get::<_, bool>(4),
        "remembers the key it was minted with"
    );

    assert_eq!(app.get("/api/v2/webhooks", access).await.status(), 200);
    let write = app
        .send_json_as(
            reqwest::Method::POST,
            "/api/v2/webhooks",
            access,
            &json!({ "event_type": "annotation.created", "target_url": "http://127.0.0.1:9/" }),
        )
        .await;
    insufficient_scope(write, "webhooks:write").await;
}

#[tokio::test]
async fn body_client_authentication_works_and_without_scope_grants_all_of_the_keys() {
    let app = TestApp::spawn().await;
    let id = app.consumer_id.to_string();
    let response = token_request(
        &app,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &app.key),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(
        token["scope"],
        "webhooks:read webhooks:write deliveries:read usage:read"
    );
}

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let app = TestApp::spawn().await;
    let id = app.consumer_id.to_string();
    let grant = ("grant_type", "client_credentials");

    // Both client authentication methods at once.
    let both = token_request(
        &app,
        Some((&id, &app.key)),
        &[grant, ("client_id", &id), ("client_secret", &app.key)],
    )
    .await;
    oauth_error(both, 400, "invalid_request").await;

    // A failed Basic authentication is a 401 with a Basic challenge.
    let wrong = format!("ihf_{}", "0".repeat(64));
    let bad_basic = token_request(&app, Some((&id, &wrong)), &[grant]).await;
    assert_eq!(
        bad_basic.headers()["www-authenticate"],
        "Basic realm=\"ihf\""
    );
    oauth_error(bad_basic, 401, "invalid_client").await;
    let none = token_request(&app, None, &[grant]).await;
    assert_eq!(none.headers()["www-authenticate"], "Basic realm=\"ihf\"");
    oauth_error(none, 401, "invalid_client").await;

    // A failed body authentication is a 400.
    let bad_body = token_request(
        &app,
        None,
        &[grant, ("client_id", &id), ("client_secret", &wrong)],
    )
    .await;
    assert!(!bad_body.headers().contains_key("www-authenticate"));
    oauth_error(bad_body, 400, "invalid_client").await;

    // Another consumer's id with this consumer's key.
    let (other, _) = crate::harness::create_consumer_with_key(&app.pg, "other").await;
    let mismatch = token_request(&app, Some((&other.to_string(), &app.key)), &[grant]).await;
    oauth_error(mismatch, 401, "invalid_client").await;

    let unsupported =
        token_request(&app, Some((&id, &app.key)), &[("grant_type", "password")]).await;
    oauth_error(unsupported, 400, "unsupported_grant_type").await;
    let missing = token_request(&app, Some((&id, &app.key)), &[]).await;
    oauth_error(missing, 400, "invalid_request").await;

    let too_much = token_request(
        &app,
        Some((&id, &app.key)),
        &[grant, ("scope", "webhooks:read admin")],
    )
    .await;
    let body = oauth_error(too_much, 400, "invalid_scope").await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("admin"));

    let json_body = app
        .http
        .post(app.url("/api/v2/token"))
        .basic_auth(&id, Some(&app.key))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    oauth_error(json_body, 400, "invalid_request").await;
}

#[tokio::test]
async fn only_active_static_keys_authenticate_clients_and_revoking_a_key_revokes_its_tokens() {
    let app = TestApp::spawn().await;
    let id = app.consumer_id.to_string();
    let grant = [("grant_type", "client_credentials")];
    let token: Value = token_request(&app, Some((&id, &app.key)), &grant)
        .await
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap().to_string();

    // A token cannot mint tokens.
    let from_token = token_request(&app, Some((&id, &access)), &grant).await;
    oauth_error(from_token, 401, "invalid_client").await;

    // Revoking the static key through the admin API revokes the token at once.
    let admin = app.key_with("admin").await;
    let key_id: uuid::Uuid = app
        .pg
        .query_one(
            "SELECT id FROM api_keys WHERE key_hash = $1",
            &[&ihf_webhooks::access::keys::hash_key(&app.key)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(app.get("/api/v2/me", &access).await.status(), 200);
    let revoke = app
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v2/admin/keys/{key_id}"),
            &admin,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let after = app.get("/api/v2/me", &access).await;
    assert!(problem(after, 401).await["detail"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    let revoked_client = token_request(&app, Some((&id, &app.key)), &grant).await;
    oauth_error(revoked_client, 401, "invalid_client").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::spawn_setting(&[("IHF_TOKEN_TTL", "1s")], crate::harness::API_ONLY).await;
    let id = app.consumer_id.to_string();
    let token: Value = token_request(
        &app,
        Some((&id, &app.key)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(token["expires_in"], 1);
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v2/me", access).await.status(),
        200,
        "cached now"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = app.get("/api/v2/me", access).await;
    assert!(
        problem(expired, 401).await["detail"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "the cache honours the token's own expiry"
    );
}

#[tokio::test]
async fn basic_credentials_are_split_on_the_first_colon_only() {
    let app = TestApp::spawn().await;
    // A secret containing a colon cannot be ours, but must not be read as id:secret:extra.
    let header = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}:extra", app.consumer_id, app.key))
    );
    let response = app
        .http
        .post(app.url("/api/v2/token"))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    oauth_error(response, 401, "invalid_client").await;
}

/// Whether python3 with authlib and requests-oauthlib is here. In CI they must
/// be (`.ci/run` installs them), so a missing package fails there.
fn python_clients_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import authlib, requests_oauthlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::harness::skip_or_fail(
            "stock_python_clients_get_and_use_tokens",
            "python3 with authlib and requests-oauthlib",
            "python3 -m pip install authlib requests-oauthlib",
        );
    }
    ok
}

#[tokio::test]
async fn stock_python_clients_get_and_use_tokens() {
    if !python_clients_available() {
        return;
    }
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/python/oauth_clients.py"
    );
    let url = app.url("");
    let id = app.consumer_id.to_string();
    let key = app.key.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("IHF_URL", url)
            .env("IHF_CLIENT_ID", id)
            .env("IHF_CLIENT_SECRET", key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("all stock-client checks passed"),
        "{stdout}"
    );
}
