//! The `/api/v2` client: subscriptions, secret rotation, test
//! events, redelivery, the attempt log, usage and the caller's own limits.
//!
//! Authenticate with a static API key, or with OAuth 2.0 client credentials
//! (the consumer id and one of its keys): the client then fetches a token
//! from `POST /api/v2/token`, fetches a new one shortly before it expires,
//! and once more if the server refuses a token as `invalid_token`.
//!
//! ```no_run
//! use futures_util::TryStreamExt;
//! use ihf_sdk::client::{Client, DeliveryQuery, NewSubscription};
//! use ihf_sdk::webhooks::EventType;
//!
//! # async fn run() -> Result<(), ihf_sdk::client::Error> {
//! let client = Client::builder("https://webhooks.example.com")
//!     .client_credentials("3f1c…consumer id", "ihf_…static key")
//!     .scope("webhooks:read webhooks:write deliveries:read")
//!     .build()?;
//! let created = client
//!     .create_subscription(&NewSubscription::new(
//!         EventType::AnnotationCreated,
//!         "https://receiver.example.com/hooks",
//!     ))
//!     .await?;
//! // Store created.secret.expose() where your receiver can read it.
//! let failed: Vec<_> = client
//!     .deliveries(created.subscription.id, DeliveryQuery::new())
//!     .try_filter(|d| std::future::ready(d.error_message.is_some()))
//!     .try_collect()
//!     .await?;
//! # let _ = failed;
//! # Ok(()) }
//! ```

mod auth;
mod endpoints;
mod error;
mod rate_limit;
mod transport;
mod types;

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::stream::BoxStream;
use reqwest::Url;

use auth::{Auth, Sensitive, TokenSource};
pub use error::{ApiError, Error, FieldError, OAuthError, Problem};
pub use rate_limit::{RateLimit, RateLimitPolicy};
pub use types::{
    Consumer, CreatedSubscription, Delivery, DeliveryQuery, DeliveryStatus, EventTypeInfo, KeyInfo,
    ListQuery, Me, MinuteLimit, NewSubscription, Page, Quota, Redelivery, RotatedSecret,
    Subscription, SubscriptionUpdate, TestResult, Usage, UsageQuery, UsageRow,
};

/// The `User-Agent` the client sends.
pub const USER_AGENT: &str = concat!("ihf-sdk/", env!("CARGO_PKG_VERSION"));

/// How long before a token expires the client fetches a new one, by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The items of a list endpoint, all pages, fetched as the stream is read
/// (use [`futures_util::TryStreamExt`]: `try_next`, `try_collect`, …).
pub type Pages<T> = BoxStream<'static, Result<T, Error>>;

/// Waiting out `429 Too Many Requests` (off unless set with
/// [`ClientBuilder::retry_rate_limited`]): wait as long as `Retry-After`
/// says, if that is at most `max_wait`, up to `max_retries` times per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitRetry {
    max_retries: u32,
    max_wait: Duration,
}

impl RateLimitRetry {
    /// Up to 3 retries, each waiting at most 60 s.
    pub fn new() -> RateLimitRetry {
        RateLimitRetry {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
        }
    }

    /// Retry at most this often per call.
    pub fn max_retries(mut self, n: u32) -> RateLimitRetry {
        self.max_retries = n;
        self
    }

    /// Give up instead of waiting longer than this (a used-up daily quota
    /// asks for hours).
    pub fn max_wait(mut self, wait: Duration) -> RateLimitRetry {
        self.max_wait = wait;
        self
    }
}

impl Default for RateLimitRetry {
    fn default() -> RateLimitRetry {
        RateLimitRetry::new()
    }
}

/// Configures a [`Client`]; from [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<Sensitive>,
    client_credentials: Option<(String, Sensitive)>,
    scope: Option<String>,
    refresh_margin: Duration,
    rate_limit_retry: Option<RateLimitRetry>,
    http: Option<reqwest::Client>,
    timeout: Duration,
}

impl ClientBuilder {
    /// Authenticate every request with this static API key (`ihf_…`).
    pub fn api_key(mut self, key: impl Into<String>) -> ClientBuilder {
        self.api_key = Some(Sensitive(key.into().into()));
        self
    }

    /// Authenticate with short-lived tokens from `POST /api/v2/token`
    /// (OAuth 2.0 client credentials, HTTP Basic): `client_id` is the
    /// consumer id, `client_secret` one of its static keys.
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ClientBuilder {
        self.client_credentials = Some((client_id.into(), Sensitive(client_secret.into().into())));
        self
    }

    /// The scopes to ask tokens for, space-delimited (default: all of the
    /// key's). Only with [`client_credentials`](Self::client_credentials).
    pub fn scope(mut self, scope: impl Into<String>) -> ClientBuilder {
        self.scope = Some(scope.into());
        self
    }

    /// Fetch a new token this long before the current one expires (default
    /// 60 s; at most half a token's lifetime is used).
    pub fn refresh_margin(mut self, margin: Duration) -> ClientBuilder {
        self.refresh_margin = margin;
        self
    }

    /// Wait and retry on `429 Too Many Requests` (off by default: the error,
    /// with its `Retry-After`, goes to the caller).
    pub fn retry_rate_limited(mut self, policy: RateLimitRetry) -> ClientBuilder {
        self.rate_limit_retry = Some(policy);
        self
    }

    /// Use this `reqwest` client (proxies, custom TLS roots). Its own
    /// timeouts apply; [`timeout`](Self::timeout) is then ignored.
    pub fn http_client(mut self, http: reqwest::Client) -> ClientBuilder {
        self.http = Some(http);
        self
    }

    /// Total time for one HTTP request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let mut base = Url::parse(&self.base_url)
            .map_err(|e| Error::Config(format!("base URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "base URL {:?} is not an http(s) URL",
                self.base_url
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let auth = match (self.api_key, self.client_credentials) {
            (Some(key), None) => Auth::ApiKey(key),
            (None, Some((client_id, client_secret))) => Auth::ClientCredentials(TokenSource {
                client_id,
                client_secret,
                scope: self.scope,
                refresh_margin: self.refresh_margin,
                current: tokio::sync::Mutex::new(None),
            }),
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "set either an API key or client credentials, not both".into(),
                ))
            }
            (None, None) => {
                return Err(Error::Config("set an API key or client credentials".into()))
            }
        };
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .timeout(self.timeout)
                .connect_timeout(self.timeout.min(Duration::from_secs(10)))
                .build()
                .map_err(Error::Transport)?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth,
                rate_limit_retry: self.rate_limit_retry,
                last_rate_limit: StdMutex::new(None),
            }),
        })
    }
}

/// A client of the ihf-webhooks API. Cheap to clone; clones share the token
/// and the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    rate_limit_retry: Option<RateLimitRetry>,
    last_rate_limit: StdMutex<Option<RateLimit>>,
}

impl Client {
    /// Starts configuring a client of the service at `base_url` (the root,
    /// e.g. `https://webhooks.example.com`; `/api/v2/…` is appended).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            client_credentials: None,
            scope: None,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            rate_limit_retry: None,
            http: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// A client authenticating with a static API key, other settings default.
    pub fn with_api_key(
        base_url: impl Into<String>,
        key: impl Into<String>,
    ) -> Result<Client, Error> {
        Client::builder(base_url).api_key(key).build()
    }

    /// The rate-limit headers of the latest response (success or error), if
    /// the server sent any: how many requests are left before a 429.
    pub fn last_rate_limit(&self) -> Option<RateLimit> {
        self.inner
            .last_rate_limit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_mistakes_are_refused() {
        assert!(matches!(
            Client::builder("ftp://x").api_key("k").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder("http://x").build(),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Client::builder("http://x")
                .api_key("k")
                .client_credentials("c", "s")
                .build(),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let client = Client::builder("http://x")
            .client_credentials("consumer", "ihf_supersecret")
            .build()
            .unwrap();
        assert!(!format!("{client:?}").contains("supersecret"));
        let keyed = Client::with_api_key("http://x", "ihf_supersecret").unwrap();
        assert!(!format!("{keyed:?}").contains("supersecret"));
    }
}
