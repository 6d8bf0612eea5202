//! Head-of-line isolation: a receiver that hangs must not delay deliveries to
//! a healthy receiver of the same event type.

use std::time::{Duration, Instant};

use crate::harness::{Receiver, Reply, TestApp, BOTH, WAIT};

const EVENTS: usize = 40;
const TIMEOUT: Duration = Duration::from_secs(3);

/// Commit-to-receipt latencies (ms) at the healthy receiver, sorted, and how
/// many requests the hanging receiver had when the last healthy one arrived.
async fn run(with_hanging_neighbour: bool) -> (Vec<u128>, usize) {
    let app = TestApp::spawn_setting(
        &[
            ("IHF_DELIVERY_TIMEOUT", "3s"),
            ("IHF_WORKER_CONCURRENCY", "16"),
            ("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", "4"),
        ],
        BOTH,
    )
    .await;
    let healthy = Receiver::start().await;
    let hanging = Receiver::start().await;
    hanging.always(Reply::ok_after(Duration::from_secs(30)));
    if with_hanging_neighbour {
        app.subscribe("annotation.created", &hanging.url()).await;
    }
    app.subscribe("annotation.created", &healthy.url()).await;
    let committed = Instant::now();
    app.pg
        .execute(
            "INSERT INTO annotations (body) SELECT 'n' || g FROM generate_series(1, $1) g",
            &[&(EVENTS as i32)],
        )
        .await
        .unwrap();
    let got = healthy.wait_for(EVENTS, WAIT).await;
    let hanging_seen = hanging.received().len();
    let mut latencies: Vec<u128> = got.iter().map(|r| (r.at - committed).as_millis()).collect();
    latencies.sort();
    (latencies, hanging_seen)
}

#[tokio::test]
async fn a_hanging_receiver_does_not_delay_a_healthy_one() {
    let (alone, _) = run(false).await;
    let (beside, hanging_seen) = run(true).await;
    let pct = |v: &[u128], p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    eprintln!(
        "healthy receiver, {EVENTS} events, commit-to-receipt ms: alone p50 {} p95 {} max {}; \
         beside a hanging receiver p50 {} p95 {} max {} (hanging receiver holds {hanging_seen} attempts)",
        pct(&alone, 50), pct(&alone, 95), alone[EVENTS - 1],
        pct(&beside, 50), pct(&beside, 95), beside[EVENTS - 1],
    );
    // Every healthy delivery arrived before any hanging attempt could time
    // out and free its slot: none of them waited behind the hanging receiver.
    assert!(beside[EVENTS - 1] < TIMEOUT.as_millis(), "{beside:?}");
    assert!(
        (1..=4).contains(&hanging_seen),
        "at most 4 in flight to one subscription, saw {hanging_seen}"
    );
}

/// Fan-out leases only what the per-subscription cap has room for; the rest
/// waits in `ihf_jobs` for a claim. Every event still arrives once, and the
/// receiver never sees more than the cap at a time.
#[tokio::test]
async fn jobs_beyond_the_cap_wait_for_room_and_arrive_once() {
    const CAP: usize = 2;
    const HOLD: Duration = Duration::from_millis(300);
    let app = TestApp::spawn_with(
        |env| {
            env.insert("IHF_WORKER_CONCURRENCY", "16".into());
            env.insert("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", CAP.to_string());
        },
        BOTH,
    )
    .await;
    let slow = Receiver::start().await;
    slow.always(Reply {
        delay: HOLD,
        ..Reply::status(200)
    });
    app.subscribe("annotation.created", &slow.url()).await;
    app.pg
        .execute(
            "INSERT INTO annotations (body) SELECT 'c' || g FROM generate_series(1, 8) g",
            &[],
        )
        .await
        .unwrap();
    let got = slow.wait_for(8, WAIT).await;
    let ids: std::collections::HashSet<String> = got.iter().map(|r| r.event_id()).collect();
    assert_eq!(ids.len(), 8, "each event once");
    // Each request is held for HOLD: with at most CAP in flight, the request
    // CAP places later cannot arrive before one of the earlier ones ended.
    let mut arrivals: Vec<Instant> = got.iter().map(|r| r.at).collect();
    arrivals.sort();
    for pair in arrivals.windows(CAP + 1) {
        let gap = pair[CAP] - pair[0];
        assert!(
            gap >= HOLD - Duration::from_millis(50),
            "{CAP}+1 requests within {gap:?}"
        );
    }
}

/// Fairness between consumers: one consumer whose many subscriptions all
/// hang holds at most `IHF_MAX_IN_FLIGHT_PER_CONSUMER` of the replica's
/// slots (here 6 of 16, while its six subscriptions' own caps would allow 24),
/// so another consumer's deliveries keep flowing.
#[tokio::test]
async fn a_consumer_with_many_hanging_receivers_holds_at_most_its_cap_and_others_keep_flowing() {
    const CONSUMER_CAP: usize = 6;
    const HANG_TIMEOUT: Duration = Duration::from_secs(10);
    let app = TestApp::spawn_with(
        |env| {
            env.insert("IHF_DELIVERY_TIMEOUT", "10s".into());
            env.insert("IHF_WORKER_CONCURRENCY", "16".into());
            env.insert("IHF_MAX_IN_FLIGHT_PER_SUBSCRIPTION", "4".into());
            env.insert("IHF_MAX_IN_FLIGHT_PER_CONSUMER", CONSUMER_CAP.to_string());
        },
        BOTH,
    )
    .await;
    let hanging = Receiver::start().await;
    hanging.always(Reply {
        delay: Duration::from_secs(60),
        ..Reply::status(200)
    });
    for i in 0..6 {
        app.subscribe("annotation.created", &format!("{}/{i}", hanging.url()))
            .await;
    }
    let healthy = Receiver::start().await;
    let (_, other_key) = crate::harness::create_consumer_with_key(&app.pg, "healthy").await;
    let response = app
        .http
        .post(app.url("/api/v2/webhooks"))
        .bearer_auth(&other_key)
        .json(
            &serde_json::json!({ "event_type": "annotation.created", "target_url": healthy.url() }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let committed = Instant::now();
    app.pg
        .execute(
            "INSERT INTO annotations (body) SELECT 'f' || g FROM generate_series(1, $1) g",
            &[&(EVENTS as i32)],
        )
        .await
        .unwrap();
    let got = healthy.wait_for(EVENTS, WAIT).await;
    let last = got.iter().map(|r| r.at).max().unwrap() - committed;
    // Give the dispatcher every chance to overshoot before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = hanging.received().len();
    eprintln!("healthy consumer: {EVENTS} events in {last:?}; hanging consumer holds {held}");
    assert!(
        last < HANG_TIMEOUT,
        "the healthy consumer waited for the hanging one's slots: {last:?}"
    );
    assert!(
        (1..=CONSUMER_CAP).contains(&held),
        "at most {CONSUMER_CAP} in flight to one consumer, saw {held}"
    );
}
