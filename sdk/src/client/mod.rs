//! The `/api/v2` client (SPEC §5): subscriptions, secret rotation, test
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
mod error;
mod rate_limit;
mod types;

use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use auth::{Auth, Sensitive, TokenResponse, TokenSource};
pub use error::{ApiError, Error, FieldError, OAuthError, Problem};
pub use rate_limit::{RateLimit, RateLimitPolicy};
pub use types::{
    Consumer, CreatedSubscription, Delivery, DeliveryQuery, DeliveryStatus, EventTypeInfo, KeyInfo,
    ListQuery, Me, MinuteLimit, NewSubscription, Page, Quota, Redelivery, RotatedSecret,
    Subscription, SubscriptionUpdate, TestResult, Usage, UsageQuery, UsageRow,
};

use crate::webhooks::Secret;

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

/// A response that was not an error.
struct Success {
    status: u16,
    body: bytes::Bytes,
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

    // ----- account -----

    /// `GET /api/v2/me`: the calling consumer, its key, limits and usage.
    pub async fn me(&self) -> Result<Me, Error> {
        self.get(&["me"], &[]).await
    }

    /// `GET /api/v2/event-types`: what can be subscribed to, with examples.
    pub async fn event_types(&self) -> Result<Vec<EventTypeInfo>, Error> {
        let list: types::EventTypeList = self.get(&["event-types"], &[]).await?;
        Ok(list.data)
    }

    /// `GET /api/v2/usage`: request counts per day and endpoint.
    pub async fn usage(&self, query: &UsageQuery) -> Result<Usage, Error> {
        self.get(&["usage"], &query.params()).await
    }

    // ----- subscriptions -----

    /// `POST /api/v2/webhooks`: subscribes; the answer carries the secret,
    /// shown this once.
    pub async fn create_subscription(
        &self,
        subscription: &NewSubscription,
    ) -> Result<CreatedSubscription, Error> {
        self.send_json(Method::POST, &["webhooks"], &[], Some(subscription))
            .await
    }

    /// `GET /api/v2/webhooks`: one page of the caller's subscriptions.
    pub async fn list_subscriptions(&self, query: &ListQuery) -> Result<Page<Subscription>, Error> {
        self.get(&["webhooks"], &query.params()).await
    }

    /// All the caller's subscriptions, page after page, as a stream.
    pub fn subscriptions(&self, query: ListQuery) -> Pages<Subscription> {
        let client = self.clone();
        paginate(move |cursor| {
            let client = client.clone();
            let mut query = query.clone();
            if cursor.is_some() {
                query.cursor = cursor;
            }
            async move { client.list_subscriptions(&query).await }
        })
    }

    /// `GET /api/v2/webhooks/{id}`.
    pub async fn get_subscription(&self, id: Uuid) -> Result<Subscription, Error> {
        self.get(&["webhooks", &id.to_string()], &[]).await
    }

    /// `PATCH /api/v2/webhooks/{id}`: changes `target_url` and/or `is_active`.
    pub async fn update_subscription(
        &self,
        id: Uuid,
        update: &SubscriptionUpdate,
    ) -> Result<Subscription, Error> {
        self.send_json(
            Method::PATCH,
            &["webhooks", &id.to_string()],
            &[],
            Some(update),
        )
        .await
    }

    /// `DELETE /api/v2/webhooks/{id}`: stops delivery; the history is kept.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<(), Error> {
        self.send::<()>(Method::DELETE, &["webhooks", &id.to_string()], &[], None)
            .await
            .map(drop)
    }

    /// `POST /api/v2/webhooks/{id}/secret/rotate`: a new secret (`secret`, or
    /// a generated one); the old one keeps signing alongside for a grace
    /// period.
    pub async fn rotate_secret(
        &self,
        id: Uuid,
        secret: Option<&Secret>,
    ) -> Result<RotatedSecret, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            secret: Option<&'a str>,
        }
        let body = Body {
            secret: secret.map(Secret::expose),
        };
        self.send_json(
            Method::POST,
            &["webhooks", &id.to_string(), "secret", "rotate"],
            &[],
            Some(&body),
        )
        .await
    }

    /// `POST /api/v2/webhooks/{id}/test`: sends a signed test event now and
    /// reports the outcome.
    pub async fn send_test(&self, id: Uuid) -> Result<TestResult, Error> {
        self.send_json::<_, ()>(
            Method::POST,
            &["webhooks", &id.to_string(), "test"],
            &[],
            None,
        )
        .await
    }

    /// `POST /api/v2/webhooks/{id}/events/{event_id}/redeliver`: schedules
    /// the event again (same `webhook-id` and body).
    pub async fn redeliver(&self, id: Uuid, event_id: &str) -> Result<Redelivery, Error> {
        self.send_json::<_, ()>(
            Method::POST,
            &["webhooks", &id.to_string(), "events", event_id, "redeliver"],
            &[],
            None,
        )
        .await
    }

    // ----- the attempt log -----

    /// `GET /api/v2/webhooks/{id}/deliveries`: one page of the attempt log,
    /// newest first.
    pub async fn list_deliveries(
        &self,
        id: Uuid,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>, Error> {
        self.get(
            &["webhooks", &id.to_string(), "deliveries"],
            &query.params(),
        )
        .await
    }

    /// The whole attempt log of a subscription, newest first, fetched page
    /// by page (following `next_cursor`) as the stream is read.
    pub fn deliveries(&self, id: Uuid, query: DeliveryQuery) -> Pages<Delivery> {
        let client = self.clone();
        paginate(move |cursor| {
            let client = client.clone();
            let mut query = query.clone();
            if cursor.is_some() {
                query.cursor = cursor;
            }
            async move { client.list_deliveries(id, &query).await }
        })
    }

    // ----- plumbing -----

    async fn get<T: DeserializeOwned>(
        &self,
        path: &[&str],
        query: &[(&'static str, String)],
    ) -> Result<T, Error> {
        self.send_json::<T, ()>(Method::GET, path, query, None)
            .await
    }

    async fn send_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&'static str, String)],
        body: Option<&B>,
    ) -> Result<T, Error> {
        let response = self.send(method, path, query, body).await?;
        serde_json::from_slice(&response.body).map_err(|source| Error::Decode {
            status: response.status,
            source,
        })
    }

    /// One API call: authenticate, send, and on failure refresh the token
    /// once (on `invalid_token`) or wait out a 429 (if configured).
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&'static str, String)],
        body: Option<&B>,
    ) -> Result<Success, Error> {
        let url = self.url(path, query);
        let body = body.map(|b| serde_json::to_vec(b).expect("request bodies serialize"));
        let mut refreshed = false;
        let mut waited = 0;
        loop {
            let bearer = self.bearer().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&*bearer.0)
                .header(http::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let response = request.send().await.map_err(Error::Transport)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            self.remember(&headers);
            let bytes = response.bytes().await.map_err(Error::Transport)?;
            if (200..300).contains(&status) {
                return Ok(Success {
                    status,
                    body: bytes,
                });
            }
            let error = ApiError::new(status, &headers, &bytes);
            if let Auth::ClientCredentials(source) = &self.inner.auth {
                if error.is_invalid_token() && !refreshed {
                    // Expired early, revoked, or the clocks disagree: one
                    // new token, then give up.
                    refreshed = true;
                    source.invalidate(&bearer).await;
                    continue;
                }
            }
            if let Some(wait) =
                self.rate_limit_wait(status, error.retry_after, &error.rate_limit, waited)
            {
                waited += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(Error::Api(Box::new(error)));
        }
    }

    /// How long to wait before retrying a 429, if the policy allows it.
    fn rate_limit_wait(
        &self,
        status: u16,
        retry_after: Option<Duration>,
        rate_limit: &RateLimit,
        retries_so_far: u32,
    ) -> Option<Duration> {
        let policy = self.inner.rate_limit_retry?;
        if status != 429 || retries_so_far >= policy.max_retries {
            return None;
        }
        let wait = retry_after
            .or_else(|| {
                rate_limit
                    .policies
                    .iter()
                    .filter(|p| p.remaining == Some(0))
                    .filter_map(|p| p.reset)
                    .max()
            })
            .unwrap_or(Duration::from_secs(1));
        (wait <= policy.max_wait).then_some(wait)
    }

    fn remember(&self, headers: &http::HeaderMap) {
        let rate_limit = RateLimit::from_headers(headers);
        if !rate_limit.is_empty() {
            *self
                .inner
                .last_rate_limit
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(rate_limit);
        }
    }

    fn url(&self, path: &[&str], query: &[(&'static str, String)]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("checked in build: the base URL can be a base")
            .pop_if_empty()
            .extend(["api", "v2"])
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// The bearer credential for the next request: the key, or a current
    /// token (fetched now if there is none or it is due for refresh).
    async fn bearer(&self) -> Result<Sensitive, Error> {
        let source = match &self.inner.auth {
            Auth::ApiKey(key) => return Ok(key.clone()),
            Auth::ClientCredentials(source) => source,
        };
        let mut current = source.current.lock().await;
        if let Some(token) = current.as_ref().filter(|t| t.fresh()) {
            return Ok(token.access_token.clone());
        }
        let token = self.fetch_token(source).await?;
        let bearer = token.access_token.clone();
        *current = Some(token);
        Ok(bearer)
    }

    /// `POST /api/v2/token` with HTTP Basic client authentication and a
    /// form body (RFC 6749 §4.4.2).
    async fn fetch_token(&self, source: &TokenSource) -> Result<auth::Token, Error> {
        let url = self.url(&["token"], &[]);
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &source.scope {
            form.push(("scope", scope.as_str()));
        }
        let mut waited = 0;
        loop {
            let requested_at = tokio::time::Instant::now();
            let response = self
                .inner
                .http
                .post(url.clone())
                .basic_auth(&source.client_id, Some(&*source.client_secret.0))
                .header(http::header::ACCEPT, "application/json")
                .form(&form)
                .send()
                .await
                .map_err(Error::Transport)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            self.remember(&headers);
            let bytes = response.bytes().await.map_err(Error::Transport)?;
            if status == 200 {
                let body: TokenResponse = serde_json::from_slice(&bytes)
                    .map_err(|source| Error::Decode { status, source })?;
                return Ok(source.token_from(body, requested_at));
            }
            let error = OAuthError::new(status, &headers, &bytes);
            if let Some(wait) =
                self.rate_limit_wait(status, error.retry_after, &error.rate_limit, waited)
            {
                waited += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(Error::OAuth(Box::new(error)));
        }
    }
}

/// Items of every page, fetching the next page (by `next_cursor`) only when
/// the previous one is used up. `fetch(None)` gets the first page.
fn paginate<T, F, Fut>(fetch: F) -> Pages<T>
where
    T: Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    enum Next {
        First,
        After(String),
        Done,
    }
    stream::try_unfold((Next::First, fetch), |(next, mut fetch)| async move {
        let cursor = match next {
            Next::Done => return Ok(None),
            Next::First => None,
            Next::After(cursor) => Some(cursor),
        };
        let page = fetch(cursor.clone()).await?;
        let next = match page.next_cursor {
            // A server that hands back the cursor it was given would loop forever.
            Some(c) if Some(&c) != cursor.as_ref() => Next::After(c),
            _ => Next::Done,
        };
        let items = stream::iter(page.data.into_iter().map(Ok::<T, Error>));
        Ok(Some((items, (next, fetch))))
    })
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let client = Client::with_api_key("http://127.0.0.1:8080/ihf/", "k").unwrap();
        assert_eq!(
            client
                .url(
                    &["webhooks", "a b/c", "deliveries"],
                    &[("cursor", "x=&y".into())]
                )
                .as_str(),
            "http://127.0.0.1:8080/ihf/api/v2/webhooks/a%20b%2Fc/deliveries?cursor=x%3D%26y"
        );
        let plain = Client::with_api_key("http://127.0.0.1:8080", "k").unwrap();
        assert_eq!(
            plain.url(&["me"], &[]).as_str(),
            "http://127.0.0.1:8080/api/v2/me"
        );
    }

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

    #[test]
    fn rate_limited_calls_wait_only_when_asked_and_only_so_long() {
        let off = Client::with_api_key("http://x", "k").unwrap();
        let none = RateLimit::default();
        assert_eq!(
            off.rate_limit_wait(429, Some(Duration::from_secs(1)), &none, 0),
            None
        );
        let on = Client::builder("http://x")
            .api_key("k")
            .retry_rate_limited(
                RateLimitRetry::new()
                    .max_retries(2)
                    .max_wait(Duration::from_secs(5)),
            )
            .build()
            .unwrap();
        let s = Duration::from_secs;
        assert_eq!(on.rate_limit_wait(429, Some(s(3)), &none, 0), Some(s(3)));
        assert_eq!(
            on.rate_limit_wait(429, Some(s(3)), &none, 2),
            None,
            "retries used up"
        );
        assert_eq!(
            on.rate_limit_wait(429, Some(s(6)), &none, 0),
            None,
            "too long a wait"
        );
        assert_eq!(on.rate_limit_wait(503, Some(s(1)), &none, 0), None);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "ratelimit",
            r#""minute";r=0;t=4, "day";r=5;t=999"#.parse().unwrap(),
        );
        let rl = RateLimit::from_headers(&headers);
        assert_eq!(on.rate_limit_wait(429, None, &rl, 0), Some(s(4)));
    }

    #[tokio::test]
    async fn pages_are_followed_until_the_cursor_runs_out() {
        let pages = |cursor: Option<String>| async move {
            Ok(match cursor.as_deref() {
                None => Page {
                    data: vec![1, 2],
                    next_cursor: Some("a".into()),
                },
                Some("a") => Page {
                    data: vec![],
                    next_cursor: Some("b".into()),
                },
                Some("b") => Page {
                    data: vec![3],
                    next_cursor: Some("b".into()),
                },
                Some(other) => panic!("unexpected cursor {other}"),
            })
        };
        let all: Vec<i32> = paginate(pages).try_collect().await.unwrap();
        assert_eq!(all, [1, 2, 3]);
    }
}
