//! Credentials: a static API key, or OAuth 2.0 client credentials (RFC 6749
//! §4.4) exchanged at `POST /api/v2/token` for short-lived
//! tokens that are fetched again shortly before they expire.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A credential that must never reach a log: `Debug` shows nothing of it.
#[derive(Clone)]
pub(crate) struct Sensitive(pub(crate) Arc<str>);

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug)]
pub(crate) enum Auth {
    ApiKey(Sensitive),
    ClientCredentials(TokenSource),
}

/// Client credentials and the token they last bought.
#[derive(Debug)]
pub(crate) struct TokenSource {
    pub(crate) client_id: String,
    pub(crate) client_secret: Sensitive,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_margin: Duration,
    /// Held while a token is fetched, so concurrent requests share one fetch.
    pub(crate) current: Mutex<Option<Token>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) access_token: Sensitive,
    /// When to fetch a new one; `None` if the server gave no lifetime.
    pub(crate) refresh_at: Option<Instant>,
}

impl Token {
    pub(crate) fn fresh(&self) -> bool {
        self.refresh_at.is_none_or(|at| Instant::now() < at)
    }
}

/// RFC 6749 §5.1.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
}

impl TokenSource {
    /// A token from a successful response, due for refresh `refresh_margin`
    /// before it expires (at most half its lifetime early, so short-lived
    /// tokens are still used).
    pub(crate) fn token_from(&self, response: TokenResponse, requested_at: Instant) -> Token {
        let refresh_at = response.expires_in.map(|secs| {
            let lifetime = Duration::from_secs(secs);
            requested_at + lifetime - self.refresh_margin.min(lifetime / 2)
        });
        Token {
            access_token: Sensitive(response.access_token.into()),
            refresh_at,
        }
    }

    /// Forgets `used` if it is still the current token (the server refused
    /// it), so the next request fetches another. A token another request
    /// already replaced is left alone.
    pub(crate) async fn invalidate(&self, used: &Sensitive) {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.access_token.0, &used.0))
        {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(margin: u64) -> TokenSource {
        TokenSource {
            client_id: "c".into(),
            client_secret: Sensitive("s".into()),
            scope: None,
            refresh_margin: Duration::from_secs(margin),
            current: Mutex::new(None),
        }
    }

    #[test]
    fn tokens_are_refreshed_a_margin_before_expiry_but_at_most_halfway() {
        let now = Instant::now();
        let response = |secs| TokenResponse {
            access_token: "t".into(),
            expires_in: Some(secs),
        };
        let hour = source(60).token_from(response(3600), now);
        assert_eq!(hour.refresh_at, Some(now + Duration::from_secs(3540)));
        let short = source(60).token_from(response(4), now);
        assert_eq!(short.refresh_at, Some(now + Duration::from_secs(2)));
        let forever = source(60).token_from(
            TokenResponse {
                access_token: "t".into(),
                expires_in: None,
            },
            now,
        );
        assert!(forever.fresh());
    }

    #[test]
    fn credentials_do_not_print() {
        let s = source(1);
        assert!(!format!("{s:?}").contains("\"s\""));
    }
}
