//! Consumer SDK for ihf-webhooks: verify
//! the [Standard Webhooks](https://www.standardwebhooks.com/) it sends, and
//! call its `/api/v2` API.
//!
//! - [`webhooks`]: parse `whsec_` secrets, [`verify`](webhooks::verify)
//!   Standard Webhooks v1 signatures (±5 min tolerance, several signatures
//!   while a secret rotates, constant-time comparison), the typed
//!   [`Event`](webhooks::Event) envelope. No async runtime needed.
//! - [`client`] (feature `client`, on by default): subscriptions, secret
//!   rotation, test events, redelivery, the attempt log as a paginated
//!   stream, usage; static API keys or OAuth 2.0 client credentials with
//!   automatic token refresh; problem+json errors that carry `Retry-After`
//!   and the rate-limit headers.
//!
//! # Receiving a webhook
//!
//! Verify the raw body before parsing it; answer 2xx only once you have
//! stored the event. Dedupe on [`Event::id`](webhooks::Event::id): delivery is
//! at least once.
//!
//! ```
//! use ihf_sdk::webhooks::{Event, EventType, Secret, Verifier, VerifyError};
//!
//! fn handle(headers: &http::HeaderMap, body: &[u8]) -> Result<u16, VerifyError> {
//!     // Load once at startup; the secret came with the subscription.
//!     let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
//!     let event: Event = Verifier::new(&secret).verify_event(headers, body)?;
//!     match event.event_type {
//!         EventType::AnnotationCreated => println!("annotation {}", event.data["id"]),
//!         other => println!("{other} {}", event.id),
//!     }
//!     Ok(204)
//! }
//! # let err = handle(&http::HeaderMap::new(), b"{}").unwrap_err();
//! # assert!(matches!(err, VerifyError::MissingHeader("webhook-id")));
//! ```
//!
//! `sdk/examples/receiver.rs` is a complete receiver (axum).
//!
//! # Calling the API
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn run() -> Result<(), ihf_sdk::client::Error> {
//! use futures_util::TryStreamExt;
//! use ihf_sdk::client::{Client, DeliveryQuery, DeliveryStatus, NewSubscription};
//! use ihf_sdk::webhooks::EventType;
//!
//! // OAuth 2.0 client credentials: the consumer id and one of its API keys.
//! // Tokens are fetched, and fetched again before they expire, as needed.
//! let client = Client::builder("https://webhooks.example.com")
//!     .client_credentials("6f0d6e1c-8a51-4b1e-9a51-2b1e8c4d0f00", "ihf_0123…")
//!     .build()?;
//!
//! let created = client
//!     .create_subscription(&NewSubscription::new(
//!         EventType::DecisionRecordCreated,
//!         "https://receiver.example.com/hooks/ihf",
//!     ))
//!     .await?;
//! let secret = created.secret; // shown once: store it for the receiver
//! # let _ = secret;
//!
//! let test = client.send_test(created.subscription.id).await?;
//! println!("test delivered: {}", test.delivered);
//!
//! // Every failed attempt, all pages.
//! let mut failed = client.deliveries(
//!     created.subscription.id,
//!     DeliveryQuery::new().status(DeliveryStatus::Failed),
//! );
//! while let Some(attempt) = failed.try_next().await? {
//!     println!("{:?} {:?}", attempt.response_code, attempt.error_message);
//! }
//!
//! // Errors are problem+json; rate limits are visible.
//! match client.get_subscription(uuid::Uuid::nil()).await {
//!     Err(e) if e.is_not_found() => println!("gone"),
//!     Err(e) if e.is_rate_limited() => println!("wait {:?}", e.retry_after()),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

#[cfg(feature = "client")]
pub mod client;
pub mod webhooks;

/// The `reqwest` this crate uses, for [`client::ClientBuilder::http_client`].
#[cfg(feature = "client")]
pub use reqwest;
