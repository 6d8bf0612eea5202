//! A webhook receiver that verifies every delivery with the SDK (axum).
//!
//! ```sh
//! WEBHOOK_SECRET=whsec_... cargo run -p ihf-sdk --example receiver -- 127.0.0.1:9000
//! ```
//!
//! Subscribe with `target_url` `http://127.0.0.1:9000/hook` (the service needs
//! `IHF_ALLOW_PRIVATE_TARGETS=true IHF_ALLOW_HTTP_TARGETS=true` for that).
//! During your own secret rotation set `WEBHOOK_SECRET` to both secrets,
//! separated by a space.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ihf_sdk::webhooks::{Event, Secret, Verifier, VerifyError};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secrets = std::env::var("WEBHOOK_SECRET")
        .map_err(|_| "set WEBHOOK_SECRET to the subscription's whsec_ secret")?
        .split_whitespace()
        .map(Secret::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = Arc::new(Verifier::new(secrets));
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}/hook", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Verify first, on the raw bytes; parse only what verified. A 2xx tells the
/// service the event is handled; anything else makes it retry.
async fn receive(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match verifier.verify_event::<serde_json::Value>(&headers, &body) {
        Ok(event) => {
            handle(event);
            StatusCode::NO_CONTENT
        }
        Err(VerifyError::InvalidBody(e)) => {
            eprintln!("signed, but not an event: {e}");
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(e) => {
            // Never print the signature or the secret; the reason is enough.
            eprintln!("rejected: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}

/// Deliveries are at least once: a real receiver dedupes on `event.id`.
fn handle(event: Event) {
    println!("{} {} verified", event.event_type, event.id);
    println!("  data: {}", event.data);
}
