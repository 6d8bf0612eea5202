//! Bearer authentication (RFC 6750) against `api_keys`, the challenges for
//! refusals, and the [`Caller`] that handlers see.
//!
//! A successful lookup is cached for `IHF_AUTH_CACHE_TTL`, keyed by the key's
//! SHA-256 (the key itself is never kept), so the hot path has no database
//! round trip. A key's own expiry is checked on every request; revocation,
//! deactivation and scope changes made elsewhere take effect within the TTL
//! (at once when made through this replica's admin API). Refusals are not
//! cached: a revoked or unknown key always asks the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::problem::Problem;
use super::AppState;
use crate::access::keys::{self, Scope, Scopes};
use crate::access::limits::{DailyCount, Limits};
use crate::db::sql;

/// Most cached keys; past this the cache starts over (it only saves lookups).
const MAX_CACHED: usize = 10_000;

/// The authenticated caller of a request, put in place by the gate.
#[derive(Debug, Clone)]
pub struct Caller {
    pub consumer_id: Uuid,
    pub key_id: Uuid,
    pub scopes: Scopes,
    /// `static` or `oauth`.
    pub token_type: &'static str,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Caller {
    /// 403 with an `insufficient_scope` challenge unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(insufficient_scope(scope))
        }
    }
}

/// Handlers behind the gate take the caller it authenticated.
impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Caller, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::internal("a handler taking Caller is not behind the gate"))
    }
}

/// 401 with the RFC 6750 challenge: plain without credentials, with
/// `invalid_token` and a description for bad ones.
pub fn unauthorized(description: Option<&str>) -> Problem {
    let (challenge, detail) = match description {
        None => (
            "Bearer realm=\"ihf\"".to_string(),
            "send an API key or token as `Authorization: Bearer <token>`".to_string(),
        ),
        Some(description) => (
            format!("Bearer realm=\"ihf\", error=\"invalid_token\", error_description=\"{description}\""),
            description.to_string(),
        ),
    };
    Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail).with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ascii"),
    )
}

/// 403 with the RFC 6750 `insufficient_scope` challenge naming `scope`.
pub fn insufficient_scope(scope: Scope) -> Problem {
    let challenge = format!(
        "Bearer realm=\"ihf\", error=\"insufficient_scope\", scope=\"{}\"",
        scope.as_str()
    );
    Problem::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!("this key lacks the {} scope", scope.as_str()),
    )
    .with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("ascii"),
    )
}

/// The token of an `Authorization: Bearer <token>` header (scheme
/// case-insensitive); `None` when there is no bearer credential at all.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A key that authenticated, with what the gate needs about its consumer.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub key_id: Uuid,
    pub consumer_id: Uuid,
    pub scopes: Scopes,
    pub token_type: &'static str,
    pub expires_at: Option<DateTime<Utc>>,
    pub limits: Limits,
    /// The daily count when the key was looked up (seeds the limiter).
    pub daily: DailyCount,
}

impl KeyRecord {
    pub fn caller(&self) -> Caller {
        Caller {
            consumer_id: self.consumer_id,
            key_id: self.key_id,
            scopes: self.scopes.clone(),
            token_type: self.token_type,
            expires_at: self.expires_at,
        }
    }

    fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Why a presented key was refused. All but `Unknown` name the consumer the
/// key belongs to (so the refusal can be logged against it) and the key.
#[derive(Debug)]
pub enum Refusal {
    /// Not a key of ours, or no such key.
    Unknown,
    Revoked(Uuid, Uuid),
    Expired(Uuid, Uuid),
    ConsumerInactive(Uuid, Uuid),
}

impl Refusal {
    pub fn consumer(&self) -> Option<Uuid> {
        self.consumer_and_key().map(|(c, _)| c)
    }

    /// `(consumer, key)` of a known key.
    pub fn consumer_and_key(&self) -> Option<(Uuid, Uuid)> {
        match self {
            Refusal::Unknown => None,
            Refusal::Revoked(c, k) | Refusal::Expired(c, k) | Refusal::ConsumerInactive(c, k) => {
                Some((*c, *k))
            }
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Refusal::Unknown => "the token is not valid",
            Refusal::Revoked(..) => "the token has been revoked",
            Refusal::Expired(..) => "the token has expired",
            Refusal::ConsumerInactive(..) => "the consumer is inactive",
        }
    }
}

#[derive(Debug)]
pub enum AuthError {
    Refused(Refusal),
    /// The database could not be asked; a 500.
    Unavailable(Problem),
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(e: tokio_postgres::Error) -> AuthError {
        AuthError::Unavailable(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for AuthError {
    fn from(e: deadpool_postgres::PoolError) -> AuthError {
        AuthError::Unavailable(e.into())
    }
}

/// A successful lookup and when it was made.
type Cached = (Instant, Arc<KeyRecord>);

/// Looks keys up, caches successes, and remembers when each key was last used.
#[derive(Debug)]
pub struct Authenticator {
    ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    /// key id → when last used, written to `api_keys.last_used_at` in batches.
    used: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl Authenticator {
    pub fn new(ttl: Duration) -> Authenticator {
        Authenticator {
            ttl,
            cache: Mutex::default(),
            used: Mutex::default(),
        }
    }

    /// The key `token` names, if it is valid now (a cached answer may be
    /// up to the cache TTL old).
    pub async fn authenticate(&self, db: &Pool, token: &str) -> Result<Arc<KeyRecord>, AuthError> {
        let now = Utc::now();
        let digest = keys::digest(token);
        if let Some(record) = self.cached(&digest, now) {
            self.touch(record.key_id, now);
            return Ok(record);
        }
        self.look_up(db, token, digest, now).await
    }

    /// Like [`authenticate`](Self::authenticate), but always asks the
    /// database: for minting tokens, so a key revoked on another replica
    /// cannot mint one from this replica's cache.
    pub async fn authenticate_fresh(
        &self,
        db: &Pool,
        token: &str,
    ) -> Result<Arc<KeyRecord>, AuthError> {
        self.look_up(db, token, keys::digest(token), Utc::now())
            .await
    }

    async fn look_up(
        &self,
        db: &Pool,
        token: &str,
        digest: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Arc<KeyRecord>, AuthError> {
        let prefix = keys::prefix_of(token).ok_or(AuthError::Refused(Refusal::Unknown))?;
        let client = db.get().await?;
        let stmt = client.prepare_cached(sql::KEYS_AUTHENTICATE).await?;
        let Some(row) = client.query_opt(&stmt, &[&prefix]).await? else {
            return Err(AuthError::Refused(Refusal::Unknown));
        };
        if !keys::hash_matches(token, row.get("key_hash")) {
            return Err(AuthError::Refused(Refusal::Unknown));
        }
        let consumer: Uuid = row.get("api_consumer_id");
        let key: Uuid = row.get("id");
        let refusal = if row.get::<_, bool>("revoked") {
            Some(Refusal::Revoked(consumer, key))
        } else if row.get::<_, bool>("expired") {
            Some(Refusal::Expired(consumer, key))
        } else if !row.get::<_, bool>("consumer_active") {
            Some(Refusal::ConsumerInactive(consumer, key))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return Err(AuthError::Refused(refusal));
        }
        let record = Arc::new(KeyRecord {
            key_id: row.get("id"),
            consumer_id: consumer,
            scopes: Scopes::parse(row.get("scopes")).unwrap_or_default(),
            token_type: if row.get::<_, &str>("token_type") == "oauth" {
                "oauth"
            } else {
                "static"
            },
            expires_at: row.get("expires_at"),
            limits: Limits::from_columns(
                row.get("rate_limit_per_minute"),
                row.get("quota_per_day"),
            ),
            daily: DailyCount {
                used: row.get("quota_used"),
                resets_at: row.get("quota_resets_at"),
            },
        });
        self.remember(digest, record.clone());
        self.touch(record.key_id, now);
        Ok(record)
    }

    fn cached(&self, digest: &[u8; 32], now: DateTime<Utc>) -> Option<Arc<KeyRecord>> {
        if self.ttl.is_zero() {
            return None;
        }
        let cache = self.cache.lock().expect("auth cache lock");
        let (fetched, record) = cache.get(digest)?;
        (fetched.elapsed() < self.ttl && !record.expired(now)).then(|| record.clone())
    }

    fn remember(&self, digest: [u8; 32], record: Arc<KeyRecord>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().expect("auth cache lock");
        if cache.len() >= MAX_CACHED {
            let ttl = self.ttl;
            cache.retain(|_, (fetched, _)| fetched.elapsed() < ttl);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(digest, (Instant::now(), record));
    }

    fn touch(&self, key: Uuid, now: DateTime<Utc>) {
        self.used.lock().expect("last-used lock").insert(key, now);
    }

    /// Drops cached lookups of these keys (after revoking them here).
    pub fn forget_keys(&self, ids: &[Uuid]) {
        let mut cache = self.cache.lock().expect("auth cache lock");
        cache.retain(|_, (_, record)| !ids.contains(&record.key_id));
    }

    /// Drops cached lookups of a consumer's keys (after changing it here).
    pub fn forget_consumer(&self, consumer: Uuid) {
        let mut cache = self.cache.lock().expect("auth cache lock");
        cache.retain(|_, (_, record)| record.consumer_id != consumer);
    }

    /// Writes the `last_used_at` of keys used since the last flush.
    pub async fn flush_last_used(
        &self,
        client: &deadpool_postgres::Client,
    ) -> Result<(), tokio_postgres::Error> {
        let used = std::mem::take(&mut *self.used.lock().expect("last-used lock"));
        if used.is_empty() {
            return Ok(());
        }
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) =
            used.iter().map(|(k, t)| (*k, *t)).unzip();
        let stmt = client.prepare_cached(sql::KEYS_TOUCH).await?;
        if let Err(e) = client.execute(&stmt, &[&ids, &times]).await {
            // Next time, then; a newer use meanwhile wins.
            let mut pending = self.used.lock().expect("last-used lock");
            for (id, at) in used {
                let entry = pending.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(e);
        }
        Ok(())
    }
}
