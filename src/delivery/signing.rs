//! Standard Webhooks v1 signatures (https://www.standardwebhooks.com/): secrets, signing and the
//! `webhook-signature` header value.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A subscription secret: `whsec_` + base64 of 24–64 random bytes. The HMAC
/// key is the decoded bytes. Debug output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a webhook secret starts with \"whsec_\"")]
    MissingPrefix,
    #[error("the part after \"whsec_\" is not standard base64")]
    NotBase64,
    #[error("the secret decodes to {0} bytes; it must be 24 to 64")]
    WrongLength(usize),
}

impl WebhookSecret {
    /// Parses and checks a secret given as text.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::WrongLength(key.len()));
        }
        Ok(WebhookSecret {
            text: text.to_string(),
            key,
        })
    }

    /// A fresh secret of 24 random bytes (a multiple of 3, so no `=` padding).
    pub fn generate() -> Self {
        let mut key = vec![0u8; 24];
        rand::rng().fill_bytes(&mut key);
        WebhookSecret {
            text: format!("{PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    /// The `whsec_…` text, for storing and for showing to the consumer once.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The `webhook-signature` header: one `v1,` item per active secret, space-separated.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(webhook_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_conventions_vector_a() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let sig = secret.sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn signs_conventions_vector_b() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_emits_one_item_per_secret() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        let header = signature_header(&[&a, &b], "evt", 1, b"{}");
        let items: Vec<_> = header.split(' ').collect();
        assert_eq!(items, [a.sign("evt", 1, b"{}"), b.sign("evt", 1, b"{}")]);
    }

    #[test]
    fn generated_secrets_parse_back_without_padding() {
        let s = WebhookSecret::generate();
        assert!(!s.expose().contains('='));
        assert_eq!(WebhookSecret::parse(s.expose()).unwrap(), s);
    }

    #[test]
    fn rejects_bad_secrets_with_a_reason() {
        assert_eq!(WebhookSecret::parse("abc"), Err(SecretError::MissingPrefix));
        assert_eq!(
            WebhookSecret::parse("whsec_!!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_dG9vIHNob3J0"),
            Err(SecretError::WrongLength(9))
        );
    }
}
