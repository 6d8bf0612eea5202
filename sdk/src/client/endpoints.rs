//! One method per `/api/v2` operation, and the streams that page through
//! the list endpoints.

use std::future::Future;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use super::types::EventTypeList;
use super::{
    Client, CreatedSubscription, Delivery, DeliveryQuery, Error, EventTypeInfo, ListQuery, Me,
    NewSubscription, Page, Pages, Redelivery, RotatedSecret, Subscription, SubscriptionUpdate,
    TestResult, Usage, UsageQuery,
};
use crate::webhooks::Secret;

impl Client {
    // ----- account -----

    /// `GET /api/v2/me`: the calling consumer, its key, limits and usage.
    pub async fn me(&self) -> Result<Me, Error> {
        self.get(&["me"], &()).await
    }

    /// `GET /api/v2/event-types`: what can be subscribed to, with examples.
    pub async fn event_types(&self) -> Result<Vec<EventTypeInfo>, Error> {
        let list: EventTypeList = self.get(&["event-types"], &()).await?;
        Ok(list.data)
    }

    /// `GET /api/v2/usage`: request counts per day and endpoint.
    pub async fn usage(&self, query: &UsageQuery) -> Result<Usage, Error> {
        self.get(&["usage"], query).await
    }

    // ----- subscriptions -----

    /// `POST /api/v2/webhooks`: subscribes; the answer carries the secret,
    /// shown this once.
    pub async fn create_subscription(
        &self,
        subscription: &NewSubscription,
    ) -> Result<CreatedSubscription, Error> {
        self.send_json(Method::POST, &["webhooks"], &(), Some(subscription))
            .await
    }

    /// `GET /api/v2/webhooks`: one page of the caller's subscriptions.
    pub async fn list_subscriptions(&self, query: &ListQuery) -> Result<Page<Subscription>, Error> {
        self.get(&["webhooks"], query).await
    }

    /// All the caller's subscriptions, page after page, as a stream.
    pub fn subscriptions(&self, query: ListQuery) -> Pages<Subscription> {
        self.pages(query, |client, query| async move {
            client.list_subscriptions(&query).await
        })
    }

    /// `GET /api/v2/webhooks/{id}`.
    pub async fn get_subscription(&self, id: Uuid) -> Result<Subscription, Error> {
        self.get(&["webhooks", &id.to_string()], &()).await
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
            &(),
            Some(update),
        )
        .await
    }

    /// `DELETE /api/v2/webhooks/{id}`: stops delivery; the history is kept.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<(), Error> {
        self.send::<_, ()>(Method::DELETE, &["webhooks", &id.to_string()], &(), None)
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
            &(),
            Some(&body),
        )
        .await
    }

    /// `POST /api/v2/webhooks/{id}/test`: sends a signed test event now and
    /// reports the outcome.
    pub async fn send_test(&self, id: Uuid) -> Result<TestResult, Error> {
        self.send_json::<_, _, ()>(
            Method::POST,
            &["webhooks", &id.to_string(), "test"],
            &(),
            None,
        )
        .await
    }

    /// `POST /api/v2/webhooks/{id}/events/{event_id}/redeliver`: schedules
    /// the event again (same `webhook-id` and body).
    pub async fn redeliver(&self, id: Uuid, event_id: &str) -> Result<Redelivery, Error> {
        self.send_json::<_, _, ()>(
            Method::POST,
            &["webhooks", &id.to_string(), "events", event_id, "redeliver"],
            &(),
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
        self.get(&["webhooks", &id.to_string(), "deliveries"], query)
            .await
    }

    /// The whole attempt log of a subscription, newest first, fetched page
    /// by page (following `next_cursor`) as the stream is read.
    pub fn deliveries(&self, id: Uuid, query: DeliveryQuery) -> Pages<Delivery> {
        self.pages(query, move |client, query| async move {
            client.list_deliveries(id, &query).await
        })
    }

    /// Every page of a list endpoint: `list` fetches one page for a query,
    /// and is called again with the query moved on to the next cursor.
    fn pages<Q, T, F, Fut>(&self, query: Q, list: F) -> Pages<T>
    where
        Q: Paged,
        T: Send + 'static,
        F: Fn(Client, Q) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
    {
        let client = self.clone();
        paginate(move |cursor| {
            let mut query = query.clone();
            if cursor.is_some() {
                query.set_cursor(cursor);
            }
            list(client.clone(), query)
        })
    }
}

/// A list endpoint's query: it carries the cursor of the page to fetch.
trait Paged: Clone + Send + 'static {
    fn set_cursor(&mut self, cursor: Option<String>);
}

impl Paged for ListQuery {
    fn set_cursor(&mut self, cursor: Option<String>) {
        self.cursor = cursor;
    }
}

impl Paged for DeliveryQuery {
    fn set_cursor(&mut self, cursor: Option<String>) {
        self.cursor = cursor;
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
