//! Secrets sealed at rest: subscription secrets (and anything else that must
//! not be readable from the database or a backup) are stored as
//! XChaCha20-Poly1305 ciphertext under a key from `IHF_SECRET_KEYS`.
//!
//! A sealed value is text: `ihfsealed1:<key id>:<base64 of nonce ‖ ciphertext>`,
//! so sealed and plaintext values are told apart by their prefix (plaintext
//! written before a key was configured keeps working, and is sealed on the
//! next start with a key). The key id is the first 8 hex characters of the
//! key's SHA-256: it says which key to use (and whether a value needs
//! resealing under the first key) without revealing anything about it.
//!
//! The first key seals, every key unseals, so keys rotate: add a new key in
//! front, run `ihf-webhooks secrets reseal`, then drop the old one.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "ihfsealed1:";

/// One 32-byte key. Debug never shows it.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingKey({})", self.id())
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> SealingKey {
        SealingKey(bytes)
    }

    /// A fresh random key (the demo's throwaway key).
    pub fn generate() -> SealingKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SealingKey(bytes)
    }

    /// The key as `IHF_SECRET_KEYS` spells it (standard base64).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// First 8 hex characters of the key's SHA-256.
    fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..4])
    }
}

/// Parses `IHF_SECRET_KEYS`: comma-separated standard base64 (padding
/// optional), each decoding to exactly 32 bytes. The message names the
/// position of a bad key, never the key.
pub fn parse_keys(text: &str) -> Result<Vec<SealingKey>, String> {
    text.split(',')
        .enumerate()
        .map(|(i, part)| {
            let part = part.trim();
            let bytes = STANDARD
                .decode(part)
                .or_else(|_| STANDARD_NO_PAD.decode(part))
                .map_err(|_| format!("key {} is not base64", i + 1))?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                format!(
                    "key {} decodes to {} bytes; each key must be 32 random bytes (e.g. `openssl rand -base64 32`)",
                    i + 1,
                    b.len()
                )
            })?;
            Ok(SealingKey(bytes))
        })
        .collect()
}

/// Why a value could not be unsealed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsealError {
    #[error("the value is sealed but IHF_SECRET_KEYS is not set")]
    NoKeys,
    #[error("the value is sealed with a key (id {0}) that is not in IHF_SECRET_KEYS")]
    UnknownKey(String),
    #[error("the sealed value is damaged or was not sealed by us")]
    Damaged,
}

/// Seals and unseals with the configured keys; without keys it passes text
/// through unchanged (secrets stored unsealed).
#[derive(Clone, Default)]
pub struct Sealer {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

impl Sealer {
    pub fn new(keys: &[SealingKey]) -> Sealer {
        Sealer {
            keys: keys
                .iter()
                .map(|k| (k.id(), XChaCha20Poly1305::new(&k.0.into())))
                .collect(),
        }
    }

    /// Whether values are sealed at all (some key is configured).
    pub fn is_active(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `text` is a sealed value (rather than plaintext).
    pub fn is_sealed(text: &str) -> bool {
        text.starts_with(SEALED_PREFIX)
    }

    /// `plaintext` sealed under the first key; unchanged without keys.
    pub fn seal(&self, plaintext: &str) -> String {
        let Some((id, cipher)) = self.keys.first() else {
            return plaintext.to_string();
        };
        // 24-byte random nonces: collisions are negligible, no counter to keep.
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption of a short text cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{id}:{}", STANDARD_NO_PAD.encode(blob))
    }

    /// The plaintext of a sealed value; plaintext is returned unchanged.
    pub fn unseal(&self, text: &str) -> Result<String, UnsealError> {
        let Some(rest) = text.strip_prefix(SEALED_PREFIX) else {
            return Ok(text.to_string());
        };
        if self.keys.is_empty() {
            return Err(UnsealError::NoKeys);
        }
        let (id, encoded) = rest.split_once(':').ok_or(UnsealError::Damaged)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(key_id, _)| key_id == id)
            .ok_or_else(|| UnsealError::UnknownKey(id.to_string()))?;
        let blob = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| UnsealError::Damaged)?;
        if blob.len() < 24 {
            return Err(UnsealError::Damaged);
        }
        let (nonce, sealed) = blob.split_at(24);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| UnsealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| UnsealError::Damaged)
    }

    /// Whether `text` should be sealed again: plaintext while a key is
    /// configured, or sealed under a key other than the first.
    pub fn needs_reseal(&self, text: &str) -> bool {
        let Some((first, _)) = self.keys.first() else {
            return false;
        };
        match text.strip_prefix(SEALED_PREFIX) {
            None => true,
            Some(rest) => rest.split_once(':').map(|(id, _)| id) != Some(first.as_str()),
        }
    }
}

/// What [`reseal_all`] did, printed by `ihf-webhooks secrets reseal`.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct ResealReport {
    /// Key id values are now sealed under.
    pub key_id: String,
    /// Subscriptions whose plaintext secrets were sealed.
    pub sealed: u64,
    /// Subscriptions whose secrets moved from an older key to the first.
    pub resealed: u64,
    /// Subscriptions already sealed under the first key.
    pub unchanged: u64,
    /// Subscriptions changed by someone else meanwhile (their new secrets
    /// were sealed by whoever wrote them).
    pub skipped: u64,
}

/// Seals every subscription secret (current and previous) under the first
/// key: plaintext ones and those sealed under an older key. Idempotent, and
/// safe beside running replicas (each row is replaced only if unchanged).
/// Fails when a value cannot be unsealed with any configured key, naming the
/// subscription, so no key is retired while still needed.
pub async fn reseal_all(
    client: &impl tokio_postgres::GenericClient,
    sealer: &Sealer,
) -> anyhow::Result<ResealReport> {
    let Some((key_id, _)) = sealer.keys.first() else {
        anyhow::bail!("IHF_SECRET_KEYS is not set: there is no key to seal with");
    };
    let mut report = ResealReport {
        key_id: key_id.clone(),
        ..ResealReport::default()
    };
    let rows = client
        .query(crate::db::sql::SUBSCRIPTIONS_LIST_SECRETS, &[])
        .await?;
    for row in rows {
        let id: uuid::Uuid = row.get("id");
        let secret: String = row.get("secret");
        let previous: Option<String> = row.get("previous_secret");
        let stale = |t: &str| sealer.needs_reseal(t);
        if !stale(&secret) && !previous.as_deref().is_some_and(stale) {
            report.unchanged += 1;
            continue;
        }
        let was_plain = !Sealer::is_sealed(&secret);
        let fresh = |t: &str| -> anyhow::Result<String> {
            if !stale(t) {
                return Ok(t.to_string());
            }
            let plain = sealer
                .unseal(t)
                .map_err(|e| anyhow::anyhow!("subscription {id}: {e}"))?;
            Ok(sealer.seal(&plain))
        };
        let new_secret = fresh(&secret)?;
        let new_previous = previous.as_deref().map(fresh).transpose()?;
        let updated = client
            .query_opt(
                crate::db::sql::SUBSCRIPTIONS_RESEAL_SECRET,
                &[&id, &new_secret, &new_previous, &secret, &previous],
            )
            .await?;
        match (updated, was_plain) {
            (None, _) => report.skipped += 1,
            (Some(_), true) => report.sealed += 1,
            (Some(_), false) => report.resealed += 1,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_hide_their_plaintext() {
        let sealer = Sealer::new(&[SealingKey::generate()]);
        let sealed = sealer.seal("whsec_secret");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("whsec_secret"));
        assert_ne!(sealed, sealer.seal("whsec_secret"), "nonces differ");
        assert_eq!(sealer.unseal(&sealed).unwrap(), "whsec_secret");
        assert_eq!(sealer.unseal("whsec_plain").unwrap(), "whsec_plain");
        assert!(!sealer.needs_reseal(&sealed));
        assert!(sealer.needs_reseal("whsec_plain"));
    }

    #[test]
    fn every_key_unseals_and_only_the_first_seals() {
        let (old, new) = (SealingKey::generate(), SealingKey::generate());
        let sealed_old = Sealer::new(std::slice::from_ref(&old)).seal("a");
        let rotated = Sealer::new(&[new.clone(), old.clone()]);
        assert_eq!(rotated.unseal(&sealed_old).unwrap(), "a");
        assert!(rotated.needs_reseal(&sealed_old));
        assert!(!rotated.needs_reseal(&rotated.seal("a")));
        assert!(matches!(
            Sealer::new(&[new]).unseal(&sealed_old),
            Err(UnsealError::UnknownKey(_))
        ));
        assert_eq!(
            Sealer::default().unseal(&sealed_old),
            Err(UnsealError::NoKeys)
        );
        assert_eq!(Sealer::default().seal("a"), "a");
    }

    #[test]
    fn tampered_values_do_not_unseal() {
        let sealer = Sealer::new(&[SealingKey::generate()]);
        let mut sealed = sealer.seal("whsec_x").into_bytes();
        let last = sealed.len() - 2;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        let sealed = String::from_utf8(sealed).unwrap();
        assert_eq!(sealer.unseal(&sealed), Err(UnsealError::Damaged));
    }

    #[test]
    fn keys_parse_from_base64_and_bad_ones_are_named_by_position() {
        let k = SealingKey::generate();
        let text = format!("{}, {}", k.to_base64(), SealingKey::generate().to_base64());
        assert_eq!(parse_keys(&text).unwrap().len(), 2);
        let e = parse_keys(&format!("{},c2hvcnQ=", k.to_base64())).unwrap_err();
        assert!(e.starts_with("key 2"), "{e}");
        assert!(parse_keys("!!!").unwrap_err().starts_with("key 1"));
        assert!(!format!("{k:?}").contains(&k.to_base64()));
    }
}
