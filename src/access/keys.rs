//! API keys: `ihf_` + 64 random hex characters, shown once;
//! only the SHA-256 hex of the whole key is stored, and `key_prefix` (the first
//! 8 hex characters of the random part) finds the row to compare against.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::db::sql;

const KEY_PREFIX: &str = "ihf_";

/// A scope a key can carry (the README lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    WebhooksRead,
    WebhooksWrite,
    DeliveriesRead,
    UsageRead,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::DeliveriesRead,
        Scope::UsageRead,
        Scope::Admin,
    ];
    /// What a key gets when created without `--scopes`.
    pub const DEFAULT: [Scope; 4] = [
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::DeliveriesRead,
        Scope::UsageRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::DeliveriesRead => "deliveries:read",
            Scope::UsageRead => "usage:read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A set of scopes, written space-delimited as in `api_keys.scopes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses space-delimited scopes (RFC 6749 §3.3: separated by spaces,
    /// nothing else); an unknown one is an error naming it.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Vec::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let scope = Scope::parse(word).ok_or_else(|| {
                format!(
                    "unknown scope {word:?}; known scopes: {}",
                    Scope::ALL.map(Scope::as_str).join(" ")
                )
            })?;
            scopes.push(scope);
        }
        scopes.sort();
        scopes.dedup();
        Ok(Scopes(scopes))
    }

    pub fn default_scopes() -> Scopes {
        Scopes(Scope::DEFAULT.to_vec())
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(" "))
    }
}

/// A freshly generated key. Debug never shows the key itself.
pub struct NewKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewKey({}…)", self.prefix)
    }
}

impl NewKey {
    pub fn generate() -> NewKey {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let random_hex = hex::encode(random);
        let key = format!("{KEY_PREFIX}{random_hex}");
        NewKey {
            prefix: random_hex[..8].to_string(),
            hash: hash_key(&key),
            key,
        }
    }
}

/// SHA-256 hex of the whole key, as stored in `api_keys.key_hash`.
pub fn hash_key(key: &str) -> String {
    hex::encode(digest(key))
}

/// SHA-256 of the whole key: what caches are keyed by, so they never hold keys.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The lookup prefix of a presented key, if it has our shape at all.
pub fn prefix_of(key: &str) -> Option<&str> {
    let random = key.strip_prefix(KEY_PREFIX)?;
    (random.len() == 64 && random.bytes().all(|b| b.is_ascii_hexdigit())).then(|| &random[..8])
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time.
pub fn hash_matches(presented: &str, stored_hash: &str) -> bool {
    hash_key(presented)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// A key as issued: the only time the key text exists outside the caller.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    pub id: Uuid,
    /// The key itself: shown this once, never stored.
    pub key: String,
    pub key_prefix: String,
    pub scopes: String,
    /// `static` (created by an operator) or `oauth` (from `/api/v2/token`).
    #[schema(value_type = String)]
    pub token_type: &'static str,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Stores a new key for `consumer` and returns it (the only time it is shown).
pub async fn issue(
    client: &impl tokio_postgres::GenericClient,
    consumer: Uuid,
    scopes: &Scopes,
    token_type: &'static str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<IssuedKey, tokio_postgres::Error> {
    insert(client, consumer, scopes, token_type, expires_at, None).await
}

/// Stores an OAuth token minted with the static key `issued_from`; revoking
/// that key revokes the token too.
pub async fn issue_token(
    client: &impl tokio_postgres::GenericClient,
    consumer: Uuid,
    scopes: &Scopes,
    expires_at: DateTime<Utc>,
    issued_from: Uuid,
) -> Result<IssuedKey, tokio_postgres::Error> {
    insert(
        client,
        consumer,
        scopes,
        "oauth",
        Some(expires_at),
        Some(issued_from),
    )
    .await
}

async fn insert(
    client: &impl tokio_postgres::GenericClient,
    consumer: Uuid,
    scopes: &Scopes,
    token_type: &'static str,
    expires_at: Option<DateTime<Utc>>,
    issued_from: Option<Uuid>,
) -> Result<IssuedKey, tokio_postgres::Error> {
    let scopes_text = scopes.to_string();
    loop {
        let new = NewKey::generate();
        let rows = client
            .query(
                sql::KEYS_INSERT,
                &[
                    &consumer,
                    &new.prefix,
                    &new.hash,
                    &scopes_text,
                    &token_type,
                    &expires_at,
                    &issued_from,
                ],
            )
            .await?;
        // No row: the prefix collided with an existing key; draw again.
        if let Some(row) = rows.first() {
            return Ok(IssuedKey {
                id: row.get("id"),
                key: new.key,
                key_prefix: new.prefix,
                scopes: scopes_text,
                token_type,
                expires_at,
                created_at: row.get("created_at"),
            });
        }
    }
}

/// A key as listed: never the key itself, only its prefix.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub id: Uuid,
    /// The first 8 hex characters after `ihf_`: enough to recognise a key.
    pub key_prefix: String,
    pub scopes: String,
    /// `static` or `oauth`.
    pub token_type: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Kept current within a few seconds (written in batches, not per request).
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl KeyInfo {
    fn from_row(row: &tokio_postgres::Row) -> KeyInfo {
        KeyInfo {
            id: row.get("id"),
            key_prefix: row.get("key_prefix"),
            scopes: row.get("scopes"),
            token_type: row.get("token_type"),
            expires_at: row.get("expires_at"),
            revoked_at: row.get("revoked_at"),
            last_used_at: row.get("last_used_at"),
            created_at: row.get("created_at"),
        }
    }
}

/// Up to `limit` of a consumer's keys in creation order after `after`.
pub async fn list(
    client: &impl tokio_postgres::GenericClient,
    consumer: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    token_type: Option<&str>,
    limit: i64,
) -> Result<Vec<KeyInfo>, tokio_postgres::Error> {
    let (after_time, after_id) = after.unzip();
    let rows = client
        .query(
            sql::KEYS_LIST,
            &[&consumer, &after_time, &after_id, &token_type, &limit],
        )
        .await?;
    Ok(rows.iter().map(KeyInfo::from_row).collect())
}

/// What revoking a key did.
#[derive(Debug, serde::Serialize)]
pub struct Revoked {
    pub id: Uuid,
    pub api_consumer_id: Uuid,
    pub revoked_at: DateTime<Utc>,
    /// Ids of the OAuth tokens minted with the key, revoked with it.
    pub tokens_revoked: Vec<Uuid>,
}

/// Revokes a key and the tokens issued with it; `None` if there is no such key.
/// Revoking again keeps the first revocation time.
pub async fn revoke(
    client: &impl tokio_postgres::GenericClient,
    id: Uuid,
) -> Result<Option<Revoked>, tokio_postgres::Error> {
    let rows = client.query(sql::KEYS_REVOKE, &[&id]).await?;
    let Some(key) = rows.iter().find(|r| r.get::<_, bool>("is_key")) else {
        return Ok(None);
    };
    Ok(Some(Revoked {
        id,
        api_consumer_id: key.get("api_consumer_id"),
        revoked_at: key.get("revoked_at"),
        tokens_revoked: rows
            .iter()
            .filter(|r| !r.get::<_, bool>("is_key"))
            .map(|r| r.get("id"))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_a_scannable_shape_and_hash_to_sha256_hex() {
        let k = NewKey::generate();
        assert!(k.key.starts_with("ihf_"));
        assert_eq!(k.key.len(), 4 + 64);
        assert!(k
            .key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(prefix_of(&k.key), Some(k.prefix.as_str()));
        assert_eq!(k.hash.len(), 64);
        assert!(hash_matches(&k.key, &k.hash));
        assert!(!hash_matches(&NewKey::generate().key, &k.hash));
        assert!(!format!("{k:?}").contains(&k.key));
    }

    #[test]
    fn scopes_parse_sort_and_reject_unknown_words() {
        let s = Scopes::parse("webhooks:write  admin webhooks:write").unwrap();
        assert_eq!(s.to_string(), "webhooks:write admin");
        assert!(Scopes::parse("webhooks:delete")
            .unwrap_err()
            .contains("webhooks:delete"));
        assert!(
            Scopes::parse("admin\tadmin").is_err(),
            "only spaces separate"
        );
        assert_eq!(
            Scopes::default_scopes().to_string(),
            "webhooks:read webhooks:write deliveries:read usage:read"
        );
    }

    #[test]
    fn foreign_shapes_have_no_prefix() {
        assert_eq!(prefix_of("ghp_abc"), None);
        assert_eq!(prefix_of("ihf_xyz"), None);
    }
}
