//! Signing deliveries with Standard Webhooks v1
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>).
//!
//! The implementation is the SDK's (`ihf_sdk::webhooks`, without its HTTP
//! client): the server signs, the demo receiver verifies and consumers verify
//! with one piece of code, so the three cannot drift apart. What only a sender
//! needs, making new secrets, is here.

use rand::RngCore;

pub use ihf_sdk::webhooks::{signature_header, Secret, SecretError};

/// How many random bytes a generated secret has: a multiple of 3, so its
/// base64 has no `=` padding, which every Standard Webhooks library accepts.
const GENERATED_KEY_BYTES: usize = 24;

/// A fresh secret of 24 random bytes.
pub fn generate_secret() -> Secret {
    let mut key = [0u8; GENERATED_KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    Secret::from_key(&key).expect("24 bytes is within the 24 to 64 a secret may have")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_random_unpadded_and_parse_back() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(!a.expose().contains('='));
        assert_eq!(Secret::parse(a.expose()).unwrap(), a);
    }
}
