//! The console's own HTTP routes: each embedded file with its media type,
//! the security headers on every answer, 404 for anything else under
//! `/console/`, and no console on a replica that serves no API.

use ihf_webhooks::api::console::CSP;

use crate::harness::{TestApp, API_ONLY};

fn assert_secured(response: &reqwest::Response) {
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert_eq!(csp, CSP);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn the_console_and_its_assets_are_served_with_their_types_and_a_strict_csp() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    for (path, media_type, needle) in [
        (
            "/console",
            "text/html; charset=utf-8",
            "<title>ihf-webhooks console</title>",
        ),
        (
            "/console/",
            "text/html; charset=utf-8",
            "id=\"signin-form\"",
        ),
        (
            "/console/index.html",
            "text/html; charset=utf-8",
            "/console/app.js",
        ),
        (
            "/console/app.js",
            "text/javascript; charset=utf-8",
            "\"use strict\"",
        ),
        ("/console/app.css", "text/css; charset=utf-8", ".chart"),
        ("/console/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], media_type, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert_secured(&response);
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path} lacks {needle}");
    }
    let head = app
        .http
        .head(app.url("/console/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn an_unknown_console_file_is_404_with_the_same_headers() {
    let app = TestApp::spawn_with(|_| {}, API_ONLY).await;
    for path in [
        "/console/nope.js",
        "/console/..%2fCargo.toml",
        "/console/app.js.map",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        // Like every error of the HTTP side, an RFC 9457 problem.
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        assert_secured(&response);
    }
    // Deeper paths are not console files either (the API's 404).
    let deeper = app.http.get(app.url("/console/a/b")).send().await.unwrap();
    assert_eq!(deeper.status(), 404);
    let post = app
        .http
        .post(app.url("/console/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn a_replica_without_the_api_serves_no_console() {
    let app = TestApp::spawn_with(
        |_| {},
        ihf_webhooks::app::Parts {
            worker: true,
            api: false,
        },
    )
    .await;
    let response = app.http.get(app.url("/console")).send().await.unwrap();
    assert_eq!(response.status(), 404);
}
