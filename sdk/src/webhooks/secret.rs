//! `whsec_` secrets: parsed once, so an invalid one cannot reach `verify`;
//! and signing, which the ihf-webhooks server uses too, so what it sends and
//! what this crate verifies are one implementation.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// The length of one `v1,<base64>` item: the prefix and 32 bytes in padded
/// base64.
const SIGNATURE_ITEM_LEN: usize = "v1,".len() + 44;

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
    ///
    /// White space around the secret is ignored: a secret read from a file
    /// or an environment file often ends in a newline, and white space is not
    /// in the base64 alphabet, so trimming it can never change which key a
    /// secret means. White space inside it is refused ([`SecretError::NotBase64`]).
    /// [`Secret::expose`] gives the trimmed text.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let text = text.trim();
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        check_length(&key)?;
        Ok(Secret {
            text: text.to_string(),
            key,
        })
    }

    /// The secret whose HMAC key is `key` (24 to 64 bytes), for a sender that
    /// makes its own random keys. Prefer 24 or 48 bytes: their base64 has no
    /// `=` padding, which is the safest form across the Standard Webhooks
    /// libraries.
    pub fn from_key(key: &[u8]) -> Result<Secret, SecretError> {
        check_length(key)?;
        Ok(Secret {
            text: format!("{PREFIX}{}", STANDARD.encode(key)),
            key: key.to_vec(),
        })
    }

    /// The `whsec_…` text, for storing it. Treat it like a password.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The signature item `v1,<base64>` of one message: HMAC-SHA256 over
    /// `{msg_id}.{timestamp}.{body}`. For tests and tools; receivers call
    /// [`verify`](super::verify), senders [`signature_header`].
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut item = String::with_capacity(SIGNATURE_ITEM_LEN);
        self.sign_into(&mut item, msg_id, timestamp, body);
        item
    }

    /// Appends the signature item `v1,<base64>` to `out`, allocating nothing
    /// else.
    fn sign_into(&self, out: &mut String, msg_id: &str, timestamp: i64, body: &[u8]) {
        out.push_str("v1,");
        let tag = self.mac(msg_id, timestamp, body).finalize().into_bytes();
        STANDARD.encode_string(tag, out);
    }

    /// The keyed MAC over the signed content, not yet finalized.
    pub(crate) fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        // The timestamp's digits go straight into the MAC: no string for them.
        write!(MacInput(&mut mac), "{timestamp}").expect("writing into a MAC cannot fail");
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// Feeds formatted text into a MAC.
struct MacInput<'a>(&'a mut Hmac<Sha256>);

impl fmt::Write for MacInput<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

fn check_length(key: &[u8]) -> Result<(), SecretError> {
    if (24..=64).contains(&key.len()) {
        Ok(())
    } else {
        Err(SecretError::WrongLength(key.len()))
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

/// The `webhook-signature` header a sender puts on a message: one
/// `v1,<base64>` item per secret, space-separated (while a secret rotates,
/// the new one and the old one), in one allocation.
///
/// ```
/// use ihf_sdk::webhooks::{signature_header, Secret};
///
/// let old = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let new = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let header = signature_header([new.clone(), old.clone()], "msg_1", 1649367553, b"{}");
/// assert_eq!(
///     header,
///     format!("{} {}", new.sign("msg_1", 1649367553, b"{}"), old.sign("msg_1", 1649367553, b"{}"))
/// );
/// # Ok::<(), ihf_sdk::webhooks::SecretError>(())
/// ```
pub fn signature_header(
    secrets: impl Secrets,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let secrets = secrets.secrets();
    let mut header = String::with_capacity(secrets.len() * (SIGNATURE_ITEM_LEN + 1));
    for secret in secrets {
        if !header.is_empty() {
            header.push(' ');
        }
        secret.sign_into(&mut header, msg_id, timestamp, body);
    }
    header
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
    fn white_space_around_a_secret_is_trimmed_and_inside_it_refused() {
        let text = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let clean = Secret::parse(text).unwrap();
        for padded in [
            format!("{text}\n"),
            format!(" {text}\r\n"),
            format!("\t{text} "),
        ] {
            let secret = Secret::parse(&padded).unwrap();
            assert_eq!(secret, clean);
            assert_eq!(secret.expose(), text);
        }
        assert_eq!(
            Secret::parse("whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::NotBase64)
        );
    }

    #[test]
    fn a_secret_made_from_a_key_parses_back_to_the_same_key() {
        let secret = Secret::from_key(&[42u8; 24]).unwrap();
        assert!(!secret.expose().contains('='));
        assert_eq!(Secret::parse(secret.expose()).unwrap(), secret);
        assert_eq!(
            Secret::from_key(&[1u8; 23]),
            Err(SecretError::WrongLength(23))
        );
    }

    #[test]
    fn the_header_has_one_item_per_secret_in_order() {
        let a = Secret::from_key(&[1u8; 24]).unwrap();
        let b = Secret::from_key(&[2u8; 48]).unwrap();
        let header = signature_header([a.clone(), b.clone()], "evt", -1, b"{}");
        let items: Vec<&str> = header.split(' ').collect();
        assert_eq!(items, [a.sign("evt", -1, b"{}"), b.sign("evt", -1, b"{}")]);
        assert_eq!(
            signature_header(&a, "evt", 1, b"{}"),
            a.sign("evt", 1, b"{}")
        );
        assert_eq!(signature_header(Vec::new(), "evt", 1, b"{}"), "");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(!format!("{secret:?}").contains("MfKQ"));
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }
}
