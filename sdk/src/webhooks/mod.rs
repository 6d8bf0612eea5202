//! Verifying webhooks: [Standard Webhooks](https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
//! v1 signatures, as ihf-webhooks sends them (it signs with this module).
//!
//! A delivery is `POST <your url>` with the headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` (`v1,<base64>`, one item per
//! active secret while a secret rotates), and the JSON body of an [`Event`].
//! [`verify`] checks, in this order: the three headers are present, the
//! timestamp is within ±5 minutes of now (configurable with [`Verifier`]),
//! and one of the signatures is HMAC-SHA256 of `{id}.{timestamp}.{body}` under
//! one of your secrets, compared in constant time.
//!
//! ```
//! use ihf_sdk::webhooks::{self, Secret};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let body = br#"{"id":"e1","type":"annotation.created","timestamp":"2026-11-27T22:09:07.819527Z","data":{}}"#;
//! // What the service sends (here made with `sign`, for the example):
//! let now = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)?
//!     .as_secs() as i64;
//! let headers = [
//!     ("webhook-id", "e1".to_string()),
//!     ("webhook-timestamp", now.to_string()),
//!     ("webhook-signature", webhooks::sign(&secret, "e1", now, body)),
//! ];
//!
//! webhooks::verify(&secret, &headers, body)?;
//! assert!(webhooks::verify(&secret, &headers, b"{}").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod event;
mod headers;
mod secret;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::Mac;
use subtle::ConstantTimeEq;

pub use event::{Event, EventType};
pub use headers::Headers;
pub use secret::{sign, signature_header, Secret, SecretError, Secrets};

/// The `webhook-id` header: the event id.
pub const HEADER_ID: &str = "webhook-id";
/// The `webhook-timestamp` header: Unix seconds of this attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The `webhook-signature` header: space-separated `v1,<base64>` items.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far the `webhook-timestamp` may be from the receiver's clock, either
/// way, by default (the Standard Webhooks recommendation).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Why a delivery was not accepted. Answer any of these with a 4xx and do not
/// act on the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent, empty, or not text.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A header is present but unreadable (the timestamp is not an integer).
    #[error("the {0} header is not valid")]
    InvalidHeader(&'static str),
    /// The timestamp is further in the past than the tolerance allows
    /// (a replay, or a clock far behind).
    #[error("the webhook timestamp is {age_secs} s old; at most {tolerance_secs} s is accepted")]
    TimestampTooOld {
        /// Seconds between the timestamp and now.
        age_secs: u64,
        /// The tolerance in force, in seconds.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the webhook timestamp is {ahead_secs} s in the future; at most {tolerance_secs} s is accepted")]
    TimestampTooNew {
        /// Seconds between now and the timestamp.
        ahead_secs: u64,
        /// The tolerance in force, in seconds.
        tolerance_secs: u64,
    },
    /// The signature header has no `v1,<base64>` item this SDK can check.
    #[error("the webhook-signature header has no v1 signature")]
    NoSupportedSignature,
    /// No signature matches the body under any of the secrets: the body was
    /// changed, or it was signed with another secret.
    #[error("no signature matches")]
    NoMatchingSignature,
    /// The signature verified but the body is not a valid event envelope
    /// (only from [`Verifier::verify_event`]).
    #[error("the webhook body is not a valid event: {0}")]
    InvalidBody(#[source] serde_json::Error),
}

/// Verifies a delivery with the default ±5 minute tolerance against the
/// system clock. `secrets` is one [`Secret`] or several (during your own
/// rotation, pass both); `headers` an [`http::HeaderMap`] or `(name, value)`
/// pairs; `body` the raw bytes as received, before any JSON parsing.
///
/// See the [module documentation](self) for an example.
pub fn verify(
    secrets: impl Secrets,
    headers: impl Headers,
    body: &[u8],
) -> Result<(), VerifyError> {
    Verifier::new(secrets).verify(headers, body)
}

/// A reusable verifier: your secrets and a tolerance.
///
/// ```
/// use std::time::Duration;
/// use ihf_sdk::webhooks::{Secret, Verifier};
///
/// let old = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let new = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let verifier = Verifier::new([old, new]).with_tolerance(Duration::from_secs(60));
/// # let _ = verifier;
/// # Ok::<(), ihf_sdk::webhooks::SecretError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier accepting signatures made with any of `secrets`.
    pub fn new(secrets: impl Secrets) -> Verifier {
        Verifier {
            secrets: secrets.secrets().to_vec(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Accept timestamps this far from the clock, either way (default ±5 min).
    pub fn with_tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery against the system clock.
    pub fn verify(&self, headers: impl Headers, body: &[u8]) -> Result<(), VerifyError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Verifies a delivery, then parses its body as an [`Event`].
    pub fn verify_event<T: serde::de::DeserializeOwned>(
        &self,
        headers: impl Headers,
        body: &[u8],
    ) -> Result<Event<T>, VerifyError> {
        self.verify(headers, body)?;
        Event::from_slice(body).map_err(VerifyError::InvalidBody)
    }

    /// Verifies a delivery as if the clock said `now` (for tests, and for
    /// checking stored deliveries against the time they arrived).
    pub fn verify_at(
        &self,
        headers: impl Headers,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let msg_id = required(&headers, HEADER_ID)?;
        let timestamp_text = required(&headers, HEADER_TIMESTAMP)?;
        let signatures = required(&headers, HEADER_SIGNATURE)?;
        let timestamp: i64 = timestamp_text
            .trim()
            .parse()
            .map_err(|_| VerifyError::InvalidHeader(HEADER_TIMESTAMP))?;
        self.check_timestamp(timestamp, now)?;

        // Items that are not `v1,<base64>` are skipped, not fatal: a later
        // scheme (`v1a,…`) may stand beside ours.
        let candidates: Vec<Vec<u8>> = signatures
            .split(' ')
            .filter_map(|item| item.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .collect();
        if candidates.is_empty() {
            return Err(VerifyError::NoSupportedSignature);
        }
        for secret in &self.secrets {
            let expected = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
            // Constant-time per comparison; `ct_eq` is false on a length mismatch.
            if candidates
                .iter()
                .any(|c| bool::from(expected.as_slice().ct_eq(c)))
            {
                return Ok(());
            }
        }
        Err(VerifyError::NoMatchingSignature)
    }

    fn check_timestamp(&self, timestamp: i64, now: SystemTime) -> Result<(), VerifyError> {
        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(before) => -(before.duration().as_secs() as i64),
        };
        let tolerance_secs = self.tolerance.as_secs();
        let diff = now.saturating_sub(timestamp);
        if diff > 0 && diff.unsigned_abs() > tolerance_secs {
            return Err(VerifyError::TimestampTooOld {
                age_secs: diff.unsigned_abs(),
                tolerance_secs,
            });
        }
        if diff < 0 && diff.unsigned_abs() > tolerance_secs {
            return Err(VerifyError::TimestampTooNew {
                ahead_secs: diff.unsigned_abs(),
                tolerance_secs,
            });
        }
        Ok(())
    }
}

fn required<'h>(headers: &'h impl Headers, name: &'static str) -> Result<&'h str, VerifyError> {
    headers
        .header(name)
        .filter(|value| !value.trim().is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        secret: &'static str,
        id: &'static str,
        timestamp: i64,
        body: &'static [u8],
        signature: &'static str,
    }

    /// The test vectors published with the Standard Webhooks specification
    /// (`spec/standard-webhooks.md`) and its reference libraries.
    const VECTORS: [Vector; 2] = [
        Vector {
            secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            timestamp: 1649367553,
            body: br#"{"email":"test@example.com","username":"test_user"}"#,
            signature: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        },
        Vector {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1614265330,
            body: br#"{"test": 2432232314}"#,
            signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
    ];

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn headers(v: &Vector, signature: &str) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), v.id.into()),
            ("webhook-timestamp".into(), v.timestamp.to_string()),
            ("webhook-signature".into(), signature.into()),
        ]
    }

    #[test]
    fn both_published_vectors_sign_and_verify() {
        for v in &VECTORS {
            let secret = Secret::parse(v.secret).unwrap();
            assert_eq!(sign(&secret, v.id, v.timestamp, v.body), v.signature);
            Verifier::new(&secret)
                .verify_at(headers(v, v.signature), v.body, at(v.timestamp))
                .unwrap();
        }
    }

    #[test]
    fn a_vector_verifies_from_an_http_header_map_too() {
        let v = &VECTORS[0];
        let mut map = http::HeaderMap::new();
        map.insert("Webhook-Id", v.id.parse().unwrap());
        map.insert(
            "Webhook-Timestamp",
            v.timestamp.to_string().parse().unwrap(),
        );
        map.insert("Webhook-Signature", v.signature.parse().unwrap());
        let secret = Secret::parse(v.secret).unwrap();
        Verifier::new(&secret)
            .verify_at(&map, v.body, at(v.timestamp + 299))
            .unwrap();
    }

    #[test]
    fn a_changed_body_id_or_timestamp_is_refused() {
        let v = &VECTORS[0];
        let secret = Secret::parse(v.secret).unwrap();
        let verifier = Verifier::new(&secret);
        let when = at(v.timestamp);
        let tampered = br#"{"email":"test@example.com","username":"test_usr"}"#;
        assert!(matches!(
            verifier.verify_at(headers(v, v.signature), tampered, when),
            Err(VerifyError::NoMatchingSignature)
        ));
        let mut other_id = headers(v, v.signature);
        other_id[0].1 = "msg_other".into();
        assert!(matches!(
            verifier.verify_at(other_id, v.body, when),
            Err(VerifyError::NoMatchingSignature)
        ));
        let mut other_time = headers(v, v.signature);
        other_time[1].1 = (v.timestamp + 1).to_string();
        assert!(matches!(
            verifier.verify_at(other_time, v.body, when),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn the_wrong_secret_is_refused() {
        let v = &VECTORS[0];
        let other = Secret::parse(VECTORS[1].secret).unwrap();
        assert!(matches!(
            Verifier::new(&other).verify_at(headers(v, v.signature), v.body, at(v.timestamp)),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn timestamps_beyond_the_tolerance_are_refused_either_way() {
        let v = &VECTORS[0];
        let secret = Secret::parse(v.secret).unwrap();
        let verifier = Verifier::new(&secret);
        let h = headers(v, v.signature);
        verifier
            .verify_at(&h, v.body, at(v.timestamp + 300))
            .unwrap();
        verifier
            .verify_at(&h, v.body, at(v.timestamp - 300))
            .unwrap();
        assert!(matches!(
            verifier.verify_at(&h, v.body, at(v.timestamp + 301)),
            Err(VerifyError::TimestampTooOld {
                age_secs: 301,
                tolerance_secs: 300
            })
        ));
        assert!(matches!(
            verifier.verify_at(&h, v.body, at(v.timestamp - 301)),
            Err(VerifyError::TimestampTooNew {
                ahead_secs: 301,
                ..
            })
        ));
        let strict = verifier.clone().with_tolerance(Duration::from_secs(10));
        assert!(strict.verify_at(&h, v.body, at(v.timestamp + 11)).is_err());
        strict.verify_at(&h, v.body, at(v.timestamp + 10)).unwrap();
    }

    #[test]
    fn any_of_several_signatures_or_secrets_verifies() {
        let v = &VECTORS[0];
        let right = Secret::parse(v.secret).unwrap();
        let other = Secret::parse(VECTORS[1].secret).unwrap();
        let when = at(v.timestamp);
        // The header during the sender's rotation: one item per secret.
        let two = format!(
            "{} {}",
            sign(&other, v.id, v.timestamp, v.body),
            v.signature
        );
        Verifier::new(&right)
            .verify_at(headers(v, &two), v.body, when)
            .unwrap();
        // The receiver's own rotation: try both secrets.
        Verifier::new([other, right])
            .verify_at(headers(v, v.signature), v.body, when)
            .unwrap();
    }

    #[test]
    fn unknown_versions_and_malformed_items_are_skipped() {
        let v = &VECTORS[0];
        let secret = Secret::parse(v.secret).unwrap();
        let verifier = Verifier::new(&secret);
        let when = at(v.timestamp);
        let mixed = format!("v2,abc nocomma v1,!!! {}", v.signature);
        verifier
            .verify_at(headers(v, &mixed), v.body, when)
            .unwrap();
        assert!(matches!(
            verifier.verify_at(headers(v, "v2,abc nocomma"), v.body, when),
            Err(VerifyError::NoSupportedSignature)
        ));
        // A truncated signature decodes but must not match.
        assert!(matches!(
            verifier.verify_at(headers(v, "v1,tZ1I4/hD"), v.body, when),
            Err(VerifyError::NoMatchingSignature)
        ));
    }

    #[test]
    fn missing_or_unreadable_headers_are_named() {
        let v = &VECTORS[0];
        let secret = Secret::parse(v.secret).unwrap();
        let verifier = Verifier::new(&secret);
        let when = at(v.timestamp);
        for (i, name) in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE]
            .into_iter()
            .enumerate()
        {
            let mut h = headers(v, v.signature);
            h.remove(i);
            let err = verifier.verify_at(h, v.body, when).unwrap_err();
            assert!(matches!(err, VerifyError::MissingHeader(n) if n == name));
        }
        let mut h = headers(v, v.signature);
        h[1].1 = "yesterday".into();
        assert!(matches!(
            verifier.verify_at(h, v.body, when),
            Err(VerifyError::InvalidHeader(HEADER_TIMESTAMP))
        ));
    }

    #[test]
    fn verify_event_returns_the_typed_envelope() {
        let secret = Secret::parse(VECTORS[1].secret).unwrap();
        let body = br#"{"id":"e1","type":"outcome_signal.created","timestamp":"2026-11-27T22:09:07.819527Z","data":{"metric":"adoption"}}"#;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let h = [
            ("webhook-id", "e1".to_string()),
            ("webhook-timestamp", now.to_string()),
            ("webhook-signature", sign(&secret, "e1", now, body)),
        ];
        let event: Event = Verifier::new(&secret).verify_event(h, body).unwrap();
        assert_eq!(event.event_type, EventType::OutcomeSignalCreated);
        assert_eq!(event.data["metric"], "adoption");
    }
}
