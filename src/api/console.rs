//! The web console at `/console`: a single page (HTML, one script, one
//! stylesheet, an icon) compiled into the binary from `console/`, that signs
//! in with an API key and then uses `/api/v2` like any other client, with a
//! short-lived token kept in memory only. It adds no way in beside the API:
//! these routes serve static files and nothing else.
//!
//! Every response here carries a strict Content-Security-Policy (scripts and
//! styles from this origin only, no inline code, no `eval`, requests to this
//! origin only, no framing) plus `X-Frame-Options: DENY` and
//! `X-Content-Type-Options: nosniff`, following OWASP's secure headers.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// What the console's pages may load and do.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// One embedded file: its name under `/console/`, media type, contents.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

const INDEX: Asset = Asset {
    name: "index.html",
    media_type: "text/html; charset=utf-8",
    body: include_bytes!("../../console/index.html"),
};

const ASSETS: [Asset; 4] = [
    INDEX,
    Asset {
        name: "app.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../console/app.js"),
    },
    Asset {
        name: "app.css",
        media_type: "text/css; charset=utf-8",
        body: include_bytes!("../../console/app.css"),
    },
    Asset {
        name: "favicon.svg",
        media_type: "image/svg+xml",
        body: include_bytes!("../../console/favicon.svg"),
    },
];

/// `/console`, `/console/` and `/console/{asset}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { serve(&INDEX) }))
        .route("/console/", get(|| async { serve(&INDEX) }))
        .route("/console/{asset}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset),
        None => with_security_headers(
            (
                StatusCode::NOT_FOUND,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "no such file in the console\n",
            )
                .into_response(),
        ),
    }
}

fn serve(asset: &Asset) -> Response {
    with_security_headers(
        (
            [
                (CONTENT_TYPE, asset.media_type),
                // Revalidate on every load, so an upgraded binary's console
                // is picked up at once.
                (CACHE_CONTROL, "no-cache"),
            ],
            asset.body,
        )
            .into_response(),
    )
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_embedded_assets_by_absolute_path() {
        let html = std::str::from_utf8(INDEX.body).unwrap();
        for asset in [
            "/console/app.js",
            "/console/app.css",
            "/console/favicon.svg",
        ] {
            assert!(html.contains(asset), "index.html does not load {asset}");
        }
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}
