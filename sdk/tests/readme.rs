//! The README's Rust snippets, quoted there verbatim from between the markers
//! (`tests/it/interop.rs` checks), compiled and exercised here so they cannot
//! rot. The client snippet needs a server, so it is only compiled here; the
//! root crate's `tests/it/sdk.rs` runs the same calls against the service.

// The client snippet needs the `client` feature; its function is compiled,
// not called.
#![cfg(feature = "client")]
#![allow(dead_code)]

// --- snippet: rust-verify ---
use ihf_sdk::webhooks::{Secret, Verifier};

/// Once at startup, with the whsec_... secret returned when you subscribed
/// (during your own rotation, pass both: `Verifier::new([old, new])`).
fn verifier(secret: &str) -> Verifier {
    Verifier::new(Secret::parse(secret).expect("a whsec_ secret"))
}

/// In the request handler: returns the status to answer.
fn receive(verifier: &Verifier, headers: &http::HeaderMap, body: &[u8]) -> u16 {
    // Signature (any of the v1 items, constant time) and timestamp (±5 min).
    match verifier.verify_event::<serde_json::Value>(headers, body) {
        Ok(event) => {
            // An Event: id, event_type (an enum of the six), timestamp, data.
            println!("{} {}", event.event_type, event.id); // dedupe on event.id
            204
        }
        Err(_) => 401,
    }
}
// --- end snippet ---

// --- snippet: rust-client ---
use futures_util::TryStreamExt; // futures-util = "0.3", for the paginated streams
use ihf_sdk::client::{Client, DeliveryQuery, DeliveryStatus, NewSubscription};
use ihf_sdk::webhooks::EventType;

async fn subscribe(consumer_id: &str, api_key: &str) -> Result<(), ihf_sdk::client::Error> {
    let client = Client::builder("https://webhooks.example.com")
        .client_credentials(consumer_id, api_key) // or .api_key(api_key)
        .build()?;
    let created = client
        .create_subscription(&NewSubscription::new(
            EventType::AnnotationCreated,
            "https://receiver.example.com/hooks/ihf",
        ))
        .await?;
    println!("store this secret: {}", created.secret.expose()); // shown once
    let test = client.send_test(created.subscription.id).await?;
    println!("test event delivered: {}", test.delivered);
    // The attempt log, every page, newest first.
    let failed: Vec<_> = client
        .deliveries(
            created.subscription.id,
            DeliveryQuery::new().status(DeliveryStatus::Failed),
        )
        .try_collect()
        .await?;
    println!("{} failed attempts", failed.len());
    Ok(())
}
// --- end snippet ---

#[test]
fn the_readme_receiver_accepts_a_signed_delivery_and_refuses_a_forged_one() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"id":"e1","type":"annotation.created","timestamp":"2026-11-27T22:09:07.819527Z","data":{"author":"ada"}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = ihf_sdk::webhooks::sign(&Secret::parse(secret).unwrap(), "e1", now, body);
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", "e1".parse().unwrap());
    headers.insert("webhook-timestamp", now.to_string().parse().unwrap());
    headers.insert("webhook-signature", signature.parse().unwrap());

    let ours = verifier(secret);
    assert_eq!(receive(&ours, &headers, body), 204);
    assert_eq!(receive(&ours, &headers, b"{}"), 401);
    let stranger = verifier("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
    assert_eq!(receive(&stranger, &headers, body), 401);
}
