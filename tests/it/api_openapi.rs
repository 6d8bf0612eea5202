//! The OpenAPI document: served, complete (no route the router serves is
//! missing from it), and the scopes it states are the scopes enforced.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use ihf_webhooks::access::request_log::RequestLog;
use ihf_webhooks::api::gate::{self, RouteScopes};
use ihf_webhooks::api::{self, AppState};
use ihf_webhooks::db::{self, PoolKind};
use reqwest::Method;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::{TestApp, API_ONLY};

/// Routes that are not part of `/api/v2` and so not in its document.
const OUTSIDE_THE_API: [&str; 6] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/console",
    "/console/",
    "/console/{asset}",
];

/// The router as the service builds it, with a pool that never connects.
fn router() -> axum::Router {
    let state = AppState {
        db: db::pool("postgres://nobody@127.0.0.1:1/none", PoolKind::Api, 1).unwrap(),
        target_policy: Default::default(),
        doorbell: None,
        gate: gate::new_gate(
            Duration::from_secs(5),
            Duration::from_secs(3600),
            RequestLog::new().0,
            RouteScopes::default(),
        ),
        webhook_client: ihf_webhooks::delivery::client::WebhookClient::new(
            Default::default(),
            Duration::from_secs(1),
        ),
        secret_rotation_grace: Duration::from_secs(60),
        metrics: Default::default(),
        worker_pool: None,
        max_subscriptions_per_consumer: 100,
        delivery_retention: ihf_webhooks::config::Retention::Forever,
    };
    api::router(state, true)
}

/// Every path template the router matches. axum has no route list, but its
/// `Debug` prints each as `RouteId(n): "/path"`, the routes before the
/// fallback's catch-alls.
fn served_paths(router: &axum::Router) -> Vec<String> {
    let debug = format!("{router:?}");
    let routes = debug
        .split("fallback_router:")
        .next()
        .expect("axum's Router Debug output has its routes first");
    let mut paths = Vec::new();
    let mut rest = routes;
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at..];
        let Some(start) = rest.find("): \"") else {
            break;
        };
        let after = &rest[start + 4..];
        let end = after.find('"').unwrap();
        if after.starts_with('/') {
            paths.push(after[..end].to_string());
        }
        rest = &after[end..];
    }
    paths.sort();
    paths.dedup();
    assert!(
        paths.len() >= 10,
        "could not read the routes from axum's Router Debug output (did its format change?): {paths:?}"
    );
    paths
}

/// The methods a path takes: axum's 405 lists them in `Allow`.
async fn served_methods(router: &axum::Router, path: &str) -> Vec<String> {
    let mut uri = String::new();
    for (i, part) in path.split('{').enumerate() {
        match (i, part.split_once('}')) {
            (0, _) | (_, None) => uri.push_str(part),
            (_, Some((_, tail))) => {
                uri.push_str(&uuid::Uuid::new_v4().to_string());
                uri.push_str(tail);
            }
        }
    }
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .method("OPTIONS")
                .uri(&uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 405, "OPTIONS {uri}");
    let allow = response.headers()["allow"].to_str().unwrap();
    allow
        .split(',')
        .map(|m| m.trim().to_lowercase())
        .filter(|m| m != "head")
        .collect()
}

#[tokio::test]
async fn every_route_the_router_serves_is_in_the_openapi_document_and_back() {
    let router = router();
    let doc = api::openapi::document();
    let documented = doc["paths"].as_object().unwrap();
    let served = served_paths(&router);
    for path in &served {
        if OUTSIDE_THE_API.contains(&path.as_str()) {
            continue;
        }
        let item = documented
            .get(path)
            .unwrap_or_else(|| panic!("{path} is served but missing from the OpenAPI document"));
        for method in served_methods(&router, path).await {
            assert!(
                item.get(&method).is_some(),
                "{} {path} is served but missing from the OpenAPI document",
                method.to_uppercase()
            );
        }
    }
    for (path, item) in documented {
        assert!(served.contains(path), "{path} is documented but not served");
        let methods = served_methods(&router, path).await;
        for method in item.as_object().unwrap().keys() {
            assert!(
                methods.contains(method),
                "{method} {path} is documented but not served"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served_without_credentials() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let response = app
        .http
        .get(app.url("/api/v2/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, api::openapi::document());
    assert_eq!(served["openapi"], "3.1.0");
    let schemes = &served["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        "/api/v2/token"
    );
}

#[tokio::test]
async fn every_operation_enforces_exactly_the_scope_its_document_states() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    let no_scopes = app.key_with("").await;
    let doc = api::openapi::document();
    let id = uuid::Uuid::new_v4().to_string();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(scopes) = op["security"][0].get("bearer") else {
                continue;
            };
            let scope = scopes[0].as_str().unwrap_or("");
            let url = path.replace("{id}", &id);
            let method: Method = method.to_uppercase().parse().unwrap();
            let send = |key: String| {
                let mut request = app.request(method.clone(), &url, &key);
                if method == Method::POST || method == Method::PATCH {
                    request = request.json(&json!({}));
                }
                async move { request.send().await.unwrap() }
            };
            let without = send(no_scopes.clone()).await;
            if scope.is_empty() {
                assert!(
                    without.status().is_success(),
                    "{method} {path}: {}",
                    without.status()
                );
            } else {
                assert_eq!(without.status(), 403, "{method} {path}");
                let challenge = without.headers()["www-authenticate"].to_str().unwrap();
                assert!(
                    challenge.ends_with(&format!("scope=\"{scope}\"")),
                    "{method} {path}: {challenge}"
                );
                let with = send(app.key_with(scope).await).await;
                assert!(
                    ![401, 403].contains(&with.status().as_u16()),
                    "{method} {path} refuses a key with {scope}: {}",
                    with.status()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} operations checked");
}
