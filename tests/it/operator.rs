//! Operator notifications: a real operator endpoint (a scripted receiver)
//! gets `subscription.failing`, `.disabled`, `.recovered` and
//! `delivery.exhausted`, signed and verified with the stock Standard
//! Webhooks crate, once per transition even with two replicas.

use std::collections::HashMap;
use std::time::Duration;

use ihf_webhooks::delivery::signing;
use serde_json::Value;
use standardwebhooks::Webhook;

use crate::harness::receiver::Received;
use crate::harness::{eventually, test_env, Receiver, Reply, Service, TestApp, BOTH, WAIT};

/// An operator endpoint and the environment that points the service at it.
struct Operator {
    receiver: Receiver,
    secret: String,
}

impl Operator {
    async fn start() -> Operator {
        Operator {
            receiver: Receiver::start().await,
            secret: signing::generate_secret().expose().to_string(),
        }
    }

    fn configure(&self, env: &mut HashMap<&'static str, String>, extra: &[(&'static str, &str)]) {
        env.insert("IHF_OPERATOR_WEBHOOK_URL", self.receiver.url());
        env.insert("IHF_OPERATOR_WEBHOOK_SECRET", self.secret.clone());
        for (name, value) in extra {
            env.insert(name, value.to_string());
        }
    }

    /// Waits for `n` notifications, checks each signature with the stock
    /// library, and returns their bodies.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let got = self.receiver.wait_for(n, WAIT).await;
        got.iter().map(|r| self.verified(r)).collect()
    }

    /// Every notification received so far, verified.
    fn all(&self) -> Vec<Value> {
        self.receiver
            .received()
            .iter()
            .map(|r| self.verified(r))
            .collect()
    }

    fn verified(&self, r: &Received) -> Value {
        Webhook::new(&self.secret)
            .unwrap()
            .verify(&r.body, &r.headers)
            .unwrap_or_else(|e| panic!("operator notification does not verify: {e:?}"));
        let body = r.json();
        assert_eq!(body["id"].as_str(), Some(r.event_id().as_str()));
        body
    }
}

fn types(notes: &[Value]) -> Vec<&str> {
    notes.iter().map(|n| n["type"].as_str().unwrap()).collect()
}

/// Waits until the operator queue is empty (everything queued was sent),
/// then a little longer, for a duplicate to show up if there were one.
async fn settle(app: &TestApp) {
    eventually(WAIT, "the operator queue drained", || async {
        (app.count("SELECT count(*) FROM ihf_operator_notifications")
            .await
            == 0)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

/// Ten retries half a second apart: a delivery keeps failing for ~5 s.
const SLOW_RETRIES: &str = "500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms";

#[tokio::test]
async fn a_receiver_that_always_fails_is_reported_failing_then_disabled() {
    let operator = Operator::start().await;
    let app = TestApp::spawn_with(
        |env| {
            operator.configure(
                env,
                &[
                    ("IHF_FAILING_AFTER", "1s"),
                    ("IHF_DISABLE_AFTER", "3s"),
                    ("IHF_RETRY_SCHEDULE", SLOW_RETRIES),
                ],
            )
        },
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(500));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;

    operator.wait_for(2).await;
    settle(&app).await;
    let notes = operator.all();
    assert_eq!(
        types(&notes),
        ["subscription.failing", "subscription.disabled"]
    );
    for note in &notes {
        let data = &note["data"];
        assert_eq!(data["consumer_id"], app.consumer_id.to_string());
        assert_eq!(data["consumer_name"], "test consumer");
        assert_eq!(data["subscription_id"], sub.to_string());
        assert_eq!(data["target_url"], receiver.url());
        assert_eq!(data["event_type"], "annotation.created");
        assert!(data["at"].as_str().unwrap().ends_with('Z'), "{data}");
        assert!(data["failing_since"].is_string(), "{data}");
        assert!(
            data["last_error"].as_str().unwrap().starts_with("HTTP 500"),
            "{data}"
        );
    }
    assert!(notes[1]["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("deactivated automatically"));
    assert_ne!(
        notes[0]["id"], notes[1]["id"],
        "one webhook-id per transition"
    );
}

#[tokio::test]
async fn a_failing_subscription_that_succeeds_again_is_reported_recovered() {
    let operator = Operator::start().await;
    let app = TestApp::spawn_with(
        |env| {
            operator.configure(
                env,
                &[("IHF_FAILING_AFTER", "1s"), ("IHF_RETRY_SCHEDULE", "3s")],
            )
        },
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(503)]);
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    app.insert("annotations").await;

    let notes = operator.wait_for(2).await;
    settle(&app).await;
    assert_eq!(operator.receiver.received().len(), 2, "nothing else");
    assert_eq!(
        types(&notes),
        ["subscription.failing", "subscription.recovered"]
    );
    assert_eq!(notes[1]["data"]["subscription_id"], sub.to_string());
    assert_eq!(receiver.received().len(), 2, "failed once, then delivered");
}

#[tokio::test]
async fn exhausted_events_are_reported_once_at_once_then_summarized_at_the_end_of_the_window() {
    let operator = Operator::start().await;
    let app = TestApp::spawn_with(
        |env| {
            operator.configure(
                env,
                &[
                    ("IHF_RETRY_SCHEDULE", "none"),
                    ("IHF_EXHAUSTED_NOTIFY_WINDOW", "3s"),
                ],
            )
        },
        BOTH,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(500));
    let (sub, _) = app.subscribe("annotation.created", &receiver.url()).await;
    for _ in 0..5 {
        app.insert("annotations").await;
    }
    let sent = receiver.wait_for(5, WAIT).await;

    let first = operator.wait_for(1).await.remove(0);
    assert_eq!(first["type"], "delivery.exhausted");
    assert_eq!(first["data"]["count"], 1);
    assert_eq!(first["data"]["subscription_id"], sub.to_string());
    assert_eq!(
        first["data"]["first_event_id"],
        first["data"]["last_event_id"]
    );

    let notes = operator.wait_for(2).await;
    let [at_once, summary] = &operator.receiver.received()[..2] else {
        unreachable!()
    };
    assert!(
        summary.at - at_once.at >= Duration::from_secs(2),
        "the rest waits for the end of the window"
    );
    assert_eq!(notes[1]["type"], "delivery.exhausted");
    assert_eq!(notes[1]["data"]["count"], 4);
    let ids: Vec<String> = sent.iter().map(|r| r.event_id()).collect();
    for field in ["first_event_id", "last_event_id"] {
        let id = notes[1]["data"][field].as_str().unwrap().to_string();
        assert!(ids.contains(&id) && id != first["data"]["first_event_id"]);
    }
    settle(&app).await;
    assert_eq!(operator.receiver.received().len(), 2, "one per window");
}

#[tokio::test]
async fn with_two_replicas_each_transition_is_notified_once() {
    let operator = Operator::start().await;
    let settings = [
        ("IHF_FAILING_AFTER", "1s"),
        ("IHF_DISABLE_AFTER", "3s"),
        ("IHF_RETRY_SCHEDULE", SLOW_RETRIES),
        ("IHF_POLL_INTERVAL", "100ms"),
    ];
    let app = TestApp::spawn_with(|env| operator.configure(env, &settings), BOTH).await;
    let mut env = test_env(&app.db.url());
    operator.configure(&mut env, &settings);
    let second = Service::start(env, BOTH).await;

    let receiver = Receiver::start().await;
    receiver.always(Reply::status(500));
    let mut subs = Vec::new();
    for copy in 0..4 {
        // Distinct URLs: an exact duplicate subscription is refused (409).
        let url = format!("{}?copy={copy}", receiver.url());
        subs.push(app.subscribe("annotation.created", &url).await.0);
    }
    for _ in 0..5 {
        app.insert("annotations").await;
    }

    operator.wait_for(8).await;
    settle(&app).await;
    let notes = operator.all();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for note in &notes {
        let key = (
            note["type"].as_str().unwrap().to_string(),
            note["data"]["subscription_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        *seen.entry(key).or_default() += 1;
    }
    for sub in &subs {
        for kind in ["subscription.failing", "subscription.disabled"] {
            assert_eq!(
                seen.get(&(kind.to_string(), sub.to_string())),
                Some(&1),
                "{kind} of {sub}: {seen:?}"
            );
        }
    }
    assert_eq!(notes.len(), 8, "{seen:?}");
    second.stop().await;
}

#[tokio::test]
async fn operator_notification_types_cannot_be_subscribed_to() {
    let app = TestApp::spawn().await;
    for event_type in ihf_webhooks::notify::EVENT_TYPES {
        let response = app
            .send_json(
                reqwest::Method::POST,
                "/api/v2/webhooks",
                &serde_json::json!({"event_type": event_type, "target_url": "http://127.0.0.1:9/x"}),
            )
            .await;
        let body = crate::harness::problem(response, 422).await;
        assert_eq!(body["errors"][0]["field"], "event_type");
    }
}
