//! The Rust SDK (`sdk/`) against the real service: subscriptions through the
//! client, deliveries verified with `ihf_sdk::webhooks`, typed errors, the
//! attempt log as a stream, tokens that expire and are refreshed.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::TryStreamExt;
use ihf_sdk::client::{
    Client, CreatedSubscription, DeliveryQuery, DeliveryStatus, Error, ListQuery, NewSubscription,
    SubscriptionUpdate,
};
use ihf_sdk::webhooks::{self, Event, EventType, Secret, Verifier, VerifyError};
use ihf_webhooks::access::keys::{self, Scopes};
use uuid::Uuid;

use crate::harness::{eventually, Receiver, Reply, TestApp, WAIT};

fn keyed_client(app: &TestApp) -> Client {
    Client::with_api_key(app.url(""), &app.key).unwrap()
}

/// Subscribes `target_url` to `event_type` through the SDK.
async fn subscribe(
    client: &Client,
    event_type: EventType,
    target_url: impl Into<String>,
) -> CreatedSubscription {
    client
        .create_subscription(&NewSubscription::new(event_type, target_url))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_sdk_creates_lists_reads_updates_and_deletes_subscriptions() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let client = keyed_client(&app);

    let created = subscribe(&client, EventType::AnnotationCreated, receiver.url()).await;
    let sub = &created.subscription;
    assert_eq!(sub.event_type, EventType::AnnotationCreated);
    assert_eq!(sub.target_url, receiver.url());
    assert!(sub.is_active && sub.disabled_reason.is_none());
    assert!(created.secret.expose().starts_with("whsec_"));

    let own = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let second = client
        .create_subscription(
            &NewSubscription::new(EventType::OutcomeSignalCreated, receiver.url())
                .with_secret(&own),
        )
        .await
        .unwrap();
    assert_eq!(second.secret, own, "a supplied secret is kept");

    assert_eq!(client.get_subscription(sub.id).await.unwrap(), *sub);
    let listed: Vec<Uuid> = client
        .subscriptions(ListQuery::new().limit(1))
        .map_ok(|s| s.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed.iter().collect::<HashSet<_>>(),
        HashSet::from([&sub.id, &second.subscription.id]),
        "two pages of one, each subscription once"
    );

    let paused = client
        .update_subscription(sub.id, &SubscriptionUpdate::new().active(false))
        .await
        .unwrap();
    assert!(!paused.is_active);
    assert_eq!(paused.target_url, sub.target_url, "unset fields are kept");

    client.delete_subscription(sub.id).await.unwrap();
    let gone = client.get_subscription(sub.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn a_delivery_to_a_subscription_made_with_the_sdk_verifies_with_the_sdk() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let client = keyed_client(&app);
    let created = subscribe(&client, EventType::DecisionRecordCreated, receiver.url()).await;

    let row = app.insert("decision_records").await;
    let got = receiver.wait_for(1, WAIT).await.remove(0);

    // Straight from the http::HeaderMap the receiver recorded.
    webhooks::verify(&created.secret, &got.headers, &got.body).unwrap();
    let event: Event = Verifier::new(&created.secret)
        .verify_event(&got.headers, &got.body)
        .unwrap();
    assert_eq!(event.event_type, EventType::DecisionRecordCreated);
    assert_eq!(event.id, got.event_id(), "body id = webhook-id");
    assert_eq!(event.data["id"], row.to_string());
    assert_eq!(event.data["decision"], "accept");

    // And from plain pairs, as other frameworks hand them over.
    let pairs: Vec<(String, String)> = got
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    webhooks::verify(&created.secret, &pairs, &got.body).unwrap();

    let mut tampered = got.body.to_vec();
    let at = tampered.iter().position(|b| *b == b'a').unwrap();
    tampered[at] = b'b';
    assert!(matches!(
        webhooks::verify(&created.secret, &got.headers, &tampered),
        Err(VerifyError::NoMatchingSignature)
    ));
    let stranger = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    assert!(webhooks::verify(&stranger, &got.headers, &got.body).is_err());
}

#[tokio::test]
async fn rotation_test_events_and_redelivery_work_through_the_sdk() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let client = keyed_client(&app);
    let created = subscribe(&client, EventType::DeploymentRecordCreated, receiver.url()).await;
    let id = created.subscription.id;
    let old = created.secret;

    let rotated = client.rotate_secret(id, None).await.unwrap();
    assert_ne!(rotated.secret, old);
    assert!(rotated.previous_secret_expires_at > chrono::Utc::now());

    let test = client.send_test(id).await.unwrap();
    assert!(test.delivered, "{test:?}");
    assert_eq!(test.response_code, Some(200));
    let got = receiver.wait_for(1, WAIT).await.remove(0);
    assert_eq!(got.event_id(), test.event_id);
    // During the grace period both secrets verify: each has its signature.
    webhooks::verify(&old, &got.headers, &got.body).unwrap();
    webhooks::verify(&rotated.secret, &got.headers, &got.body).unwrap();

    app.insert("deployment_records").await;
    let first = receiver.wait_for(2, WAIT).await.remove(1);
    let redelivery = client.redeliver(id, &first.event_id()).await.unwrap();
    assert_eq!(redelivery.event_id, first.event_id());
    let again = receiver.wait_for(3, WAIT).await.remove(2);
    assert_eq!(again.event_id(), first.event_id(), "same webhook-id");
    assert_eq!(again.body, first.body, "same body");
    webhooks::verify(&rotated.secret, &again.headers, &again.body).unwrap();

    let mine = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let chosen = client.rotate_secret(id, Some(&mine)).await.unwrap();
    assert_eq!(chosen.secret, mine);
}

#[tokio::test]
async fn api_errors_arrive_as_typed_problems() {
    let app = TestApp::spawn().await;
    let client = keyed_client(&app);

    let missing = client.get_subscription(Uuid::new_v4()).await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert_eq!(missing.problem().unwrap().title, "Not Found");

    let invalid = client
        .create_subscription(&NewSubscription::new(
            EventType::AnnotationCreated,
            "ftp://example.com/hook",
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid.status(), Some(422));
    let problem = invalid.problem().unwrap();
    assert_eq!(problem.errors[0].field, "target_url", "{problem:?}");
    assert!(invalid.to_string().contains("target_url"), "{invalid}");

    let unknown = client
        .create_subscription(&NewSubscription::new(
            EventType::Unknown("widget.exploded".into()),
            "http://127.0.0.1:9/hook",
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.problem().unwrap().errors[0].field, "event_type");

    let stranger = Client::with_api_key(
        app.url(""),
        "ihf_0000000000000000000000000000000000000000000000000000000000000000",
    )
    .unwrap();
    let Error::Api(refused) = stranger
        .list_subscriptions(&ListQuery::new())
        .await
        .unwrap_err()
    else {
        panic!("expected an API error")
    };
    assert_eq!(refused.status, 401);
    assert!(refused.is_invalid_token());
    assert!(refused
        .www_authenticate
        .as_deref()
        .unwrap()
        .contains("invalid_token"));

    let read_only = keys::issue(
        &app.pg,
        app.consumer_id,
        &Scopes::parse("webhooks:read").unwrap(),
        "static",
        None,
    )
    .await
    .unwrap()
    .key;
    let Error::Api(forbidden) = Client::with_api_key(app.url(""), read_only)
        .unwrap()
        .create_subscription(&NewSubscription::new(
            EventType::AnnotationCreated,
            "http://127.0.0.1:9/hook",
        ))
        .await
        .unwrap_err()
    else {
        panic!("expected an API error")
    };
    assert_eq!(forbidden.status, 403);
    assert!(!forbidden.is_invalid_token());
    assert!(forbidden
        .www_authenticate
        .as_deref()
        .unwrap()
        .contains("scope=\"webhooks:write\""));
}

#[tokio::test]
async fn the_attempt_log_is_paged_through_as_a_stream() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let client = keyed_client(&app);
    let sub = subscribe(&client, EventType::OutcomeSignalCreated, receiver.url())
        .await
        .subscription;
    // The first attempt fails and is retried: its retry's row stores only the
    // event's reference and is listed with the body of the failed row.
    receiver.script([Reply::status(500)]);
    for _ in 0..5 {
        app.insert("outcome_signals").await;
    }
    receiver.wait_for(6, WAIT).await;
    // One row per attempt (each event attempted at once: no 'pending' row).
    let rows = eventually(WAIT, "6 log rows", || async {
        let n = app
            .count(&format!(
                "SELECT count(*) FROM webhook_deliveries WHERE webhook_subscription_id = '{}'",
                sub.id
            ))
            .await;
        (n == 6).then_some(n)
    })
    .await;

    let all: Vec<_> = client
        .deliveries(sub.id, DeliveryQuery::new().limit(4))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len() as i64, rows, "2 pages of 4, every row once");
    assert_eq!(
        all.iter().map(|d| d.id).collect::<HashSet<_>>().len(),
        all.len()
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].attempted_at >= w[1].attempted_at),
        "newest first"
    );
    assert!(all
        .iter()
        .all(|d| d.payload.event_type == EventType::OutcomeSignalCreated));
    assert!(
        all.iter().all(|d| d.payload.data["metric"] == "adoption"),
        "every row shows the body, the retry's too"
    );

    let delivered: Vec<_> = client
        .deliveries(
            sub.id,
            DeliveryQuery::new()
                .limit(2)
                .status(DeliveryStatus::Delivered),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(delivered.len(), 5);
    assert!(delivered
        .iter()
        .all(|d| d.status == DeliveryStatus::Delivered && d.response_code == Some(200)));
    let events: HashSet<_> = delivered.iter().map(|d| d.payload.id.clone()).collect();
    let received: HashSet<_> = receiver.received().iter().map(|r| r.event_id()).collect();
    assert_eq!(events, received);
}

async fn oauth_tokens(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM api_keys WHERE token_type = 'oauth'")
        .await
}

/// Short-lived tokens, and no cached key lookups so a token expired in the
/// database is refused at once.
async fn spawn_with_short_tokens(ttl: &str) -> TestApp {
    let ttl = ttl.to_string();
    TestApp::spawn_with(
        move |env| {
            env.insert("IHF_TOKEN_TTL", ttl);
            env.insert("IHF_AUTH_CACHE_TTL", "0s".into());
        },
        crate::harness::BOTH,
    )
    .await
}

#[tokio::test]
async fn a_client_credentials_client_refreshes_its_token_before_it_expires() {
    let app = spawn_with_short_tokens("3s").await;
    let client = Client::builder(app.url(""))
        .client_credentials(app.consumer_id.to_string(), &app.key)
        .scope("webhooks:read webhooks:write")
        .build()
        .unwrap();
    client.list_subscriptions(&ListQuery::new()).await.unwrap();
    assert_eq!(oauth_tokens(&app).await, 1);
    // Past the token's whole lifetime: the request must not fail on it.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    client.list_subscriptions(&ListQuery::new()).await.unwrap();
    assert_eq!(oauth_tokens(&app).await, 2, "a new token was fetched");
    let me = client.me().await.unwrap();
    assert_eq!(me.key.token_type, "oauth");
    assert_eq!(me.key.scopes, "webhooks:read webhooks:write");
}

#[tokio::test]
async fn a_token_the_server_refuses_is_replaced_once() {
    let app = spawn_with_short_tokens("1h").await;
    let client = Client::builder(app.url(""))
        .client_credentials(app.consumer_id.to_string(), &app.key)
        .build()
        .unwrap();
    client.list_subscriptions(&ListQuery::new()).await.unwrap();
    // The server stops accepting it before the client expected (revoked,
    // clocks apart): the 401 invalid_token makes the client fetch another.
    app.pg
        .execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 s' WHERE token_type = 'oauth'",
            &[],
        )
        .await
        .unwrap();
    client.list_subscriptions(&ListQuery::new()).await.unwrap();
    assert_eq!(oauth_tokens(&app).await, 2);

    let wrong = Client::builder(app.url(""))
        .client_credentials(app.consumer_id.to_string(), "ihf_not_a_key")
        .build()
        .unwrap();
    let Error::OAuth(refused) = wrong.me().await.unwrap_err() else {
        panic!("expected an OAuth error")
    };
    assert_eq!(refused.error, "invalid_client");
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn me_event_types_usage_and_rate_limits_are_typed() {
    let app = spawn_with_short_tokens("1h").await;
    let client = keyed_client(&app);
    let me = client.me().await.unwrap();
    assert_eq!(me.consumer.id, app.consumer_id);
    assert_eq!(me.key.token_type, "static");
    assert_eq!(me.rate_limit.limit, 1000);
    let types = client.event_types().await.unwrap();
    assert_eq!(
        types.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        EventType::ALL
    );
    let minute = client.last_rate_limit().unwrap();
    assert_eq!(minute.policy("minute").unwrap().quota, Some(1000));
    let usage = eventually(WAIT, "usage rows", || async {
        let usage = client.usage(&Default::default()).await.unwrap();
        (!usage.data.is_empty()).then_some(usage)
    })
    .await;
    assert!(usage.data.iter().any(|r| r.endpoint == "/api/v2/me"));

    app.pg
        .execute("UPDATE api_consumers SET rate_limit_per_minute = 1", &[])
        .await
        .unwrap();
    let limited = eventually(WAIT, "a 429", || async {
        client.me().await.err().filter(Error::is_rate_limited)
    })
    .await;
    assert!(limited.retry_after().is_some());
    assert_eq!(limited.problem().unwrap().violated_policies, ["minute"]);
    assert_eq!(
        limited
            .rate_limit()
            .unwrap()
            .policy("minute")
            .unwrap()
            .remaining,
        Some(0)
    );
}
