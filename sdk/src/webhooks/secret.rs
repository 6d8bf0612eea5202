//! `whsec_` secrets: parsed once, so an invalid one cannot reach `verify`.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A subscription's signing secret: `whsec_` + standard base64 of 24–64 bytes.
///
/// The HMAC key is the decoded bytes, not the text. `Debug` never shows the
/// secret; [`Secret::expose`] gives the text back (to store it).
///
/// ```
/// use ihf_sdk::webhooks::Secret;
///
/// let secret: Secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".parse()?;
/// assert_eq!(format!("{secret:?}"), "Secret(..)");
/// # Ok::<(), ihf_sdk::webhooks::SecretError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

/// Why a text is not a valid `whsec_` secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a webhook secret starts with \"whsec_\"")]
    MissingPrefix,
    /// The part after `whsec_` is not standard base64.
    #[error("the part after \"whsec_\" is not standard base64")]
    NotBase64,
    /// The key has the wrong size (the value is the decoded length).
    #[error("the secret decodes to {0} bytes; it must be 24 to 64")]
    WrongLength(usize),
}

impl Secret {
    /// Parses a `whsec_…` secret as the API returned it.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded.trim_end())
            .map_err(|_| SecretError::NotBase64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::WrongLength(key.len()));
        }
        Ok(Secret {
            text: text.trim_end().to_string(),
            key,
        })
    }

    /// The `whsec_…` text, for storing it. Treat it like a password.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The signature item `v1,<base64>` of one message: HMAC-SHA256 over
    /// `{msg_id}.{timestamp}.{body}`. For tests and tools; receivers call
    /// [`verify`](super::verify).
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(self.mac(msg_id, timestamp, body).finalize().into_bytes())
        )
    }

    /// The keyed MAC over the signed content, not yet finalized.
    pub(crate) fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Secret, SecretError> {
        Secret::parse(text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        let text = String::deserialize(deserializer)?;
        Secret::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One secret or several (while a secret rotates, a delivery carries one
/// signature per active secret; any match verifies).
///
/// Implemented for a [`Secret`], slices, arrays and vectors of them, and
/// references to all of these.
pub trait Secrets {
    /// The secrets to try, in order.
    fn secrets(&self) -> &[Secret];
}

impl Secrets for Secret {
    fn secrets(&self) -> &[Secret] {
        std::slice::from_ref(self)
    }
}

impl Secrets for [Secret] {
    fn secrets(&self) -> &[Secret] {
        self
    }
}

impl<const N: usize> Secrets for [Secret; N] {
    fn secrets(&self) -> &[Secret] {
        self
    }
}

impl Secrets for Vec<Secret> {
    fn secrets(&self) -> &[Secret] {
        self
    }
}

impl<T: Secrets + ?Sized> Secrets for &T {
    fn secrets(&self) -> &[Secret] {
        (**self).secrets()
    }
}

/// Signs a message with `secret`: the `webhook-signature` item `v1,<base64>`.
/// For tests (for example, a receiver's test suite); see [`Secret::sign`].
///
/// ```
/// use ihf_sdk::webhooks::{sign, Secret};
///
/// let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let signature = sign(
///     &secret,
///     "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
///     1649367553,
///     br#"{"email":"test@example.com","username":"test_user"}"#,
/// );
/// assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
/// # Ok::<(), ihf_sdk::webhooks::SecretError>(())
/// ```
pub fn sign(secret: &Secret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secret.sign(msg_id, timestamp, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_of_24_to_64_bytes_parse_and_others_are_refused_with_a_reason() {
        let bytes = |n: usize| format!("{PREFIX}{}", STANDARD.encode(vec![7u8; n]));
        assert!(Secret::parse(&bytes(24)).is_ok());
        assert!(Secret::parse(&bytes(64)).is_ok());
        assert_eq!(Secret::parse(&bytes(23)), Err(SecretError::WrongLength(23)));
        assert_eq!(Secret::parse(&bytes(65)), Err(SecretError::WrongLength(65)));
        assert_eq!(Secret::parse("abc"), Err(SecretError::MissingPrefix));
        assert_eq!(Secret::parse("whsec_!!!!"), Err(SecretError::NotBase64));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(!format!("{secret:?}").contains("MfKQ"));
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }
}
