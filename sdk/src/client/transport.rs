//! Sending one API call: the bearer credential (a key, or a token fetched
//! and refreshed here), the request, and what a failure leads to: one new
//! token on `invalid_token`, an opt-in wait on 429, or a typed error.

use std::time::Duration;

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::auth::{self, Auth, Sensitive, TokenResponse, TokenSource};
use super::{ApiError, Client, Error, OAuthError, RateLimit};

/// A response that was not an error.
pub(super) struct Success {
    pub(super) status: u16,
    pub(super) body: bytes::Bytes,
}

impl Client {
    pub(super) async fn get<T: DeserializeOwned, Q: Serialize + ?Sized>(
        &self,
        path: &[&str],
        query: &Q,
    ) -> Result<T, Error> {
        self.send_json::<T, Q, ()>(Method::GET, path, query, None)
            .await
    }

    pub(super) async fn send_json<
        T: DeserializeOwned,
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    >(
        &self,
        method: Method,
        path: &[&str],
        query: &Q,
        body: Option<&B>,
    ) -> Result<T, Error> {
        let response = self.send(method, path, query, body).await?;
        serde_json::from_slice(&response.body).map_err(|source| Error::Decode {
            status: response.status,
            source,
        })
    }

    /// One API call: authenticate, send, and on failure refresh the token
    /// once (on `invalid_token`) or wait out a 429 (if configured). `query`
    /// is a struct of the query parameters, or `&()` for none.
    pub(super) async fn send<Q: Serialize + ?Sized, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &[&str],
        query: &Q,
        body: Option<&B>,
    ) -> Result<Success, Error> {
        let url = self.url(path);
        let body = body.map(|b| serde_json::to_vec(b).expect("request bodies serialize"));
        let mut refreshed = false;
        let mut waited = 0;
        loop {
            let bearer = self.bearer().await?;
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .query(query)
                .bearer_auth(&*bearer.0)
                .header(http::header::ACCEPT, "application/json");
            if let Some(body) = &body {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let (status, headers, bytes) = self.read(request).await?;
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
            if self
                .waited_out_429(status, error.retry_after, &error.rate_limit, &mut waited)
                .await
            {
                continue;
            }
            return Err(Error::Api(Box::new(error)));
        }
    }

    /// Sends `request` and reads the whole response, remembering its
    /// rate-limit headers.
    async fn read(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, http::HeaderMap, bytes::Bytes), Error> {
        let response = request.send().await.map_err(Error::Transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.remember(&headers);
        let bytes = response.bytes().await.map_err(Error::Transport)?;
        Ok((status, headers, bytes))
    }

    /// On a 429 the policy lets us retry: waits as long as asked, counts the
    /// retry in `waited` and returns true (send again); otherwise false.
    async fn waited_out_429(
        &self,
        status: u16,
        retry_after: Option<Duration>,
        rate_limit: &RateLimit,
        waited: &mut u32,
    ) -> bool {
        match self.rate_limit_wait(status, retry_after, rate_limit, *waited) {
            Some(wait) => {
                *waited += 1;
                tokio::time::sleep(wait).await;
                true
            }
            None => false,
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

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("checked in build: the base URL can be a base")
            .pop_if_empty()
            .extend(["api", "v2"])
            .extend(path);
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
        let url = self.url(&["token"]);
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &source.scope {
            form.push(("scope", scope.as_str()));
        }
        let mut waited = 0;
        loop {
            let requested_at = tokio::time::Instant::now();
            let request = self
                .inner
                .http
                .post(url.clone())
                .basic_auth(&source.client_id, Some(&*source.client_secret.0))
                .header(http::header::ACCEPT, "application/json")
                .form(&form);
            let (status, headers, bytes) = self.read(request).await?;
            if status == 200 {
                let body: TokenResponse = serde_json::from_slice(&bytes)
                    .map_err(|source| Error::Decode { status, source })?;
                return Ok(source.token_from(body, requested_at));
            }
            let error = OAuthError::new(status, &headers, &bytes);
            if self
                .waited_out_429(status, error.retry_after, &error.rate_limit, &mut waited)
                .await
            {
                continue;
            }
            return Err(Error::OAuth(Box::new(error)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DeliveryQuery, DeliveryStatus, ListQuery, RateLimitRetry, UsageQuery};
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let client = Client::with_api_key("http://127.0.0.1:8080/ihf/", "k").unwrap();
        assert_eq!(
            client.url(&["webhooks", "a b/c", "deliveries"]).as_str(),
            "http://127.0.0.1:8080/ihf/api/v2/webhooks/a%20b%2Fc/deliveries"
        );
        let plain = Client::with_api_key("http://127.0.0.1:8080", "k").unwrap();
        assert_eq!(
            plain.url(&["me"]).as_str(),
            "http://127.0.0.1:8080/api/v2/me"
        );
    }

    #[test]
    fn queries_encode_what_is_set_and_nothing_else() {
        use chrono::TimeZone;

        fn url(query: &impl Serialize) -> String {
            let client = Client::with_api_key("http://127.0.0.1:8080", "k").unwrap();
            let request = client.inner.http.get(client.url(&["q"])).query(query);
            request.build().unwrap().url().to_string()
        }
        let base = "http://127.0.0.1:8080/api/v2/q";
        assert_eq!(url(&()), base);
        assert_eq!(url(&ListQuery::new()), base);
        let mut deliveries = DeliveryQuery::new()
            .limit(5)
            .status(DeliveryStatus::Failed)
            .since(chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        deliveries.cursor = Some("x=&y".into());
        assert_eq!(
            url(&deliveries),
            format!("{base}?limit=5&cursor=x%3D%26y&status=failed&since=2026-01-02T03%3A04%3A05.000000Z")
        );
        let usage = UsageQuery {
            since: chrono::NaiveDate::from_ymd_opt(2026, 1, 2),
            until: None,
        };
        assert_eq!(url(&usage), format!("{base}?since=2026-01-02"));
    }

    /// A server on loopback that answers `429` with `Retry-After: 0` to
    /// the first `refusals` requests and `{}` after; counts the requests.
    async fn rate_limiting_server(
        refusals: usize,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let app = axum::Router::new().fallback(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < refusals {
                    (
                        http::StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "0")],
                        "{}",
                    )
                } else {
                    (http::StatusCode::OK, [("retry-after", "0")], "{}")
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    #[tokio::test]
    async fn a_429_is_sent_again_after_the_wait_when_asked_and_only_so_often() {
        use std::sync::atomic::Ordering;
        let (url, seen) = rate_limiting_server(2).await;
        let patient = Client::builder(&url)
            .api_key("k")
            .retry_rate_limited(RateLimitRetry::new().max_retries(2))
            .build()
            .unwrap();
        let _: serde_json::Value = patient.get(&["me"], &()).await.unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 3);

        let (url, seen) = rate_limiting_server(2).await;
        let hasty = Client::builder(&url)
            .api_key("k")
            .retry_rate_limited(RateLimitRetry::new().max_retries(1))
            .build()
            .unwrap();
        let error = hasty
            .get::<serde_json::Value, _>(&["me"], &())
            .await
            .unwrap_err();
        assert!(error.is_rate_limited(), "{error:?}");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
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
}
