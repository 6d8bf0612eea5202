//! The console in a real headless Chromium (WebDriver): sign-in, what each
//! page shows, the write controls and who sees them, and that the page stays
//! within its origin and its Content-Security-Policy with a quiet console.
//! `IHF_SCREENSHOTS=docs/screenshots` also saves each page at desktop and
//! phone width (the README shows them).

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::browser::Browser;
use crate::harness::{create_consumer_with_key, Receiver, Reply, TestApp, WAIT};

/// The 401 Chromium logs when the API refuses a key or token: expected where
/// a test makes the API refuse one, an error anywhere else.
const REFUSED: &str = "status of 401";

/// Opens the console and signs in with `key`; waits for the first page.
async fn sign_in(browser: &Browser, key: &str, landing: &str) {
    browser.type_into("#api-key", key).await;
    browser.click("#signin-button").await;
    browser.wait_for_text("#view h1", landing).await;
}

async fn sign_out(browser: &Browser) {
    browser.click("#sign-out").await;
    browser
        .wait_for_text("#signin-message", "Signed out.")
        .await;
    assert!(!browser.shows("#view").await);
}

/// The key must not be anywhere a script or the URL could read it later.
async fn assert_key_not_kept(browser: &Browser, key: &str) {
    let kept = browser
        .js(
            "return [localStorage.length, sessionStorage.length, document.cookie, location.href, \
                     document.documentElement.outerHTML.includes(arguments[0]), \
                     document.getElementById('api-key').value];",
            json!([key]),
        )
        .await;
    assert_eq!(kept[0], 0, "localStorage holds something");
    assert_eq!(kept[1], 0, "sessionStorage holds something");
    assert_eq!(kept[2], "", "a cookie is set");
    assert!(
        !kept[3].as_str().unwrap().contains(key),
        "the key is in the URL"
    );
    assert_eq!(kept[4], false, "the key is in the page");
    assert_eq!(kept[5], "", "the key stays in the input");
}

#[tokio::test]
async fn a_consumer_signs_in_sees_usage_keys_and_deliveries_redelivers_and_manages_its_subscriptions(
) {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    receiver.always(Reply::status(200));
    let target = format!("{}/hooks/console", receiver.url());
    let (subscription, _) = app.subscribe("annotation.created", &target).await;
    app.insert("annotations").await;
    let first = receiver.wait_for(1, WAIT).await;
    let event_id = first[0].event_id();
    // A second consumer with a subscription and traffic of its own.
    let (_, other_key) = create_consumer_with_key(&app.pg, "other consumer").await;
    let other_target = "http://127.0.0.1:9/hooks/never-shown-to-the-first-consumer";
    let other = app
        .request(Method::POST, "/api/v2/webhooks", &other_key)
        .json(&json!({ "event_type": "annotation.created", "target_url": other_target }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    let other: Value = other.json().await.unwrap();
    let other_subscription = other["id"].as_str().unwrap().to_string();
    // Requests the usage page must show.
    for _ in 0..7 {
        let r = app.get("/api/v2/event-types", &app.key).await;
        assert_eq!(r.status(), 200);
    }
    app.request_log(app.consumer_id, 8).await;
    let before = app.get_json("/api/v2/usage?bucket=hour").await;

    let Some(browser) = open_console(&app).await else {
        return;
    };
    let origin = app.url("");
    browser.screenshots("sign-in").await;

    // Sign in: the usage page, with the requests just made.
    sign_in(&browser, &app.key, "Usage").await;
    assert_key_not_kept(&browser, &app.key).await;
    browser
        .wait_for(
            "the requests chart",
            "document.querySelector('#requests-chart .bar rect')",
        )
        .await;
    let charted = browser
        .js(
            "return [...document.querySelectorAll('#requests-chart .bar')] \
               .reduce((s, g) => s + Number(g.dataset.requests), 0);",
            json!([]),
        )
        .await
        .as_i64()
        .unwrap();
    let before_total: i64 = before["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["requests"].as_i64().unwrap())
        .sum();
    assert!(
        charted >= before_total && before_total >= 8,
        "the chart shows {charted} requests, the API {before_total} before sign-in"
    );
    let endpoints = browser
        .wait_for_text("#endpoint-table", "GET /api/v2/event-types")
        .await;
    let row = endpoints
        .lines()
        .find(|l| l.contains("GET /api/v2/event-types"))
        .unwrap();
    assert!(row.contains("\t7\t7\t"), "7 requests, all 2xx: {row:?}");
    let hover = browser
        .js(
            "return document.querySelector('#requests-chart .bar rect title').textContent;",
            json!([]),
        )
        .await;
    assert!(hover.as_str().unwrap().contains("2xx of"), "{hover}");
    browser
        .wait_for_text("#quota-used", "of 100,000 requests")
        .await;
    browser.screenshots("usage").await;

    // Keys: its own by prefix, never the other consumer's.
    browser.click("a[href='#/keys']").await;
    let keys = browser.wait_for_text("#keys-table", &app.key[4..12]).await;
    assert!(!keys.contains(&other_key[4..12]));
    assert!(!keys.contains(&app.key[12..]), "more than the prefix shown");
    browser.screenshots("keys").await;

    // Subscriptions: the one made through the API, with write controls.
    browser.click("a[href='#/subscriptions']").await;
    browser.wait_for_text("#subscriptions-table", &target).await;
    assert!(browser.shows("#create-form").await);
    let page = browser
        .js("return document.body.innerText;", json!([]))
        .await;
    assert!(!page.as_str().unwrap().contains(other_target));
    browser.screenshots("subscriptions").await;

    // Its detail, then its deliveries: the worker's attempt, 200.
    browser
        .click(&format!("a[href='#/subscriptions/{subscription}']"))
        .await;
    browser.wait_for_text("#detail-target", &target).await;
    assert!(browser.shows("#actions").await);
    browser.click("#to-deliveries").await;
    let row_of = |event: &str| format!("#deliveries-table tr.delivery[data-event='{event}']");
    let first_row = browser.wait_for_text(&row_of(&event_id), "delivered").await;
    assert!(first_row.contains("200"), "{first_row:?}");

    // Redeliver: the receiver gets it again, and a refresh shows the new attempt.
    let attempts = format!(
        "document.querySelectorAll(\"#deliveries-table tr.delivery.delivered[data-event='{event_id}']\").length"
    );
    assert_eq!(
        browser.js(&format!("return {attempts};"), json!([])).await,
        1
    );
    browser
        .click(&format!("{} button.redeliver", row_of(&event_id)))
        .await;
    browser
        .wait_for_text("#delivery-result", "scheduled again")
        .await;
    let again = receiver.wait_for(2, WAIT).await;
    assert_eq!(again[1].event_id(), event_id);
    browser
        .wait_for("the new attempt", &format!(
            "(() => {{ document.getElementById('refresh-deliveries').click(); return {attempts} >= 2; }})()"
        ))
        .await;
    let newest = browser
        .js(
            "const r = document.querySelector('#deliveries-table tr.delivery'); \
             return [r.dataset.event, r.innerText];",
            json!([]),
        )
        .await;
    assert_eq!(newest[0], event_id.as_str(), "newest first");
    assert!(newest[1].as_str().unwrap().contains("delivered"));
    // The envelope, formatted.
    browser
        .click(&format!("{} button[aria-expanded]", row_of(&event_id)))
        .await;
    let envelope = browser
        .wait_for_text(
            "tr.envelope:not([hidden]) pre",
            "\"type\": \"annotation.created\"",
        )
        .await;
    assert!(
        envelope.contains(&format!("\"id\": \"{event_id}\"")),
        "{envelope}"
    );
    browser.screenshots("deliveries").await;

    // Filter by status: no failed attempts.
    browser
        .js(
            "document.getElementById('delivery-status').value = 'failed';",
            json!([]),
        )
        .await;
    browser.click("#delivery-filters button[type=submit]").await;
    browser
        .wait_for_text("#deliveries-table", "No attempts match.")
        .await;
    // Filter by time: any status, but only after a time to come.
    browser
        .js(
            "document.getElementById('delivery-status').value = ''; \
             document.getElementById('delivery-since').value = '2099-01-01T00:00:00';",
            json!([]),
        )
        .await;
    browser.click("#delivery-filters button[type=submit]").await;
    browser
        .wait_for(
            "an empty list",
            "document.querySelectorAll('#deliveries-table tr.delivery').length === 0",
        )
        .await;
    browser
        .wait_for_text("#deliveries-table", "No attempts match.")
        .await;

    // The other consumer's subscription, even by its id, is not found.
    browser
        .goto(&app.url(&format!("/console#/subscriptions/{other_subscription}")))
        .await;
    browser
        .wait_for_text("#view", "Could not load this page: no such subscription")
        .await;
    assert!(!browser
        .js("return document.body.innerText;", json!([]))
        .await
        .as_str()
        .unwrap()
        .contains(other_target));
    // The API's 404, logged by Chromium, is the expected answer here.
    browser.assert_quiet_console(&["status of 404"]).await;

    // Test event and secret rotation on the detail page.
    browser.click("a[href='#/subscriptions']").await;
    browser
        .click(&format!("a[href='#/subscriptions/{subscription}']"))
        .await;
    browser.click("#send-test").await;
    browser
        .wait_for_text("#action-result", "Test event delivered: HTTP 200")
        .await;
    browser.click("#rotate-secret").await;
    browser.wait_for_text("#action-result", "Shown once").await;
    let secret = browser
        .js(
            "return document.getElementById('new-secret').value;",
            json!([]),
        )
        .await;
    assert!(secret.as_str().unwrap().starts_with("whsec_"), "{secret}");
    assert!(browser.shows("#copy-secret").await);
    browser.screenshots("subscription").await;

    // Create one in the console: its secret is shown once, then edit, pause,
    // resume and delete it, each checked against the API.
    browser.click("a[href='#/subscriptions']").await;
    browser
        .wait_for_text("#create-form", "New subscription")
        .await;
    browser
        .js(
            "document.getElementById('new-event-type').value = 'decision_record.created';",
            json!([]),
        )
        .await;
    let made_here = format!("{}/hooks/made-in-the-console", receiver.url());
    browser.type_into("#new-target", &made_here).await;
    browser.click("#create-form button[type=submit]").await;
    browser
        .wait_for_text("#action-result", "Signing secret")
        .await;
    browser.wait_for_text("#detail-target", &made_here).await;
    let subs = app.get_json("/api/v2/webhooks").await;
    let created = subs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["target_url"] == made_here.as_str())
        .expect("created through the console")
        .clone();
    assert_eq!(created["event_type"], "decision_record.created");
    let created_id = created["id"].as_str().unwrap().to_string();
    let api_sub = |id: String| {
        let app = &app;
        async move { app.get_json(&format!("/api/v2/webhooks/{id}")).await }
    };
    let edited = format!("{made_here}/edited");
    browser.type_into("#edit-target", &edited).await;
    browser.click("#edit-form button[type=submit]").await;
    browser.wait_for_text("#detail-target", &edited).await;
    browser.wait_for_text("#action-result", "Saved.").await;
    assert_eq!(
        api_sub(created_id.clone()).await["target_url"],
        edited.as_str()
    );
    browser.click("#toggle-active").await;
    browser.wait_for_text("#toggle-active", "Resume").await;
    assert_eq!(api_sub(created_id.clone()).await["is_active"], false);
    browser.click("#toggle-active").await;
    browser.wait_for_text("#toggle-active", "Pause").await;
    assert_eq!(api_sub(created_id.clone()).await["is_active"], true);
    browser.click("#delete").await;
    browser.click("#confirm-delete").await;
    browser.wait_for_text("#view h1", "Subscriptions").await;
    browser.wait_for_text("#subscriptions-table", &target).await;
    assert!(!browser
        .js("return document.body.innerText;", json!([]))
        .await
        .as_str()
        .unwrap()
        .contains(&edited));
    let gone = app
        .get(&format!("/api/v2/webhooks/{created_id}"), &app.key)
        .await;
    assert_eq!(gone.status(), 404);

    browser.assert_quiet_console(&[]).await;
    browser.assert_same_origin_and_no_violations(&origin).await;
    sign_out(&browser).await;
    browser.quit().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_clearly_and_a_read_only_key_sees_no_write_controls() {
    let app = TestApp::spawn().await;
    let (subscription, _) = app
        .subscribe("annotation.created", "http://127.0.0.1:9/hooks/read-only")
        .await;
    let admin = app.key_with("admin").await;
    let read_only = app
        .key_with("webhooks:read deliveries:read usage:read")
        .await;
    // One attempt in the log (refused: nothing listens on port 9).
    let test = app
        .post_json(&format!("/api/v2/webhooks/{subscription}/test"))
        .await;
    assert_eq!(test["delivered"], false);

    let Some(browser) = open_console(&app).await else {
        return;
    };
    let origin = app.url("");

    // A key of the right shape that is no key of ours.
    // Keyboard only: type, then Enter.
    browser
        .type_into("#api-key", &format!("ihf_{}", "0".repeat(64)))
        .await;
    browser.press("#api-key", "\u{E007}").await;
    let refusal = browser
        .wait_for_text("#signin-message", "That API key was not accepted")
        .await;
    assert!(refusal.contains("unknown, revoked or expired"), "{refusal}");
    assert!(!browser.shows("#bar").await);
    browser.assert_quiet_console(&[REFUSED]).await;

    // Read-only: pages show, write controls do not.
    sign_in(&browser, &read_only, "Usage").await;
    assert!(
        !browser.shows("a[href='#/admin']").await,
        "admin link for a non-admin key"
    );
    browser.click("a[href='#/subscriptions']").await;
    browser
        .wait_for_text("#subscriptions-table", "http://127.0.0.1:9/hooks/read-only")
        .await;
    assert!(!browser.shows("#create-form").await);
    browser
        .click(&format!("a[href='#/subscriptions/{subscription}']"))
        .await;
    browser.wait_for_text("#detail-target", "read-only").await;
    for control in [
        "#actions",
        "#toggle-active",
        "#send-test",
        "#rotate-secret",
        "#delete",
    ] {
        assert!(
            !browser.shows(control).await,
            "{control} shown to a read-only key"
        );
    }
    browser.click("#to-deliveries").await;
    browser.wait_for_text("#deliveries-table", "failed").await;
    assert!(!browser.shows("button.redeliver").await);
    browser.assert_quiet_console(&[]).await;

    // Revoking the key revokes the console's token: the next call signs out.
    let keys: Value = app
        .get("/api/v2/keys?token_type=static", &read_only)
        .await
        .json()
        .await
        .unwrap();
    let id = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_prefix"] == read_only[4..12])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = app
        .request(Method::DELETE, &format!("/api/v2/admin/keys/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    browser.click("a[href='#/keys']").await;
    browser
        .wait_for_text("#signin-message", "Your session has ended")
        .await;
    assert!(!browser.shows("#view").await);
    browser.assert_quiet_console(&[REFUSED]).await;
    browser.assert_same_origin_and_no_violations(&origin).await;
    browser.quit().await;
}

#[tokio::test]
async fn an_admin_key_sees_every_consumer_with_usage_quota_and_subscription_health() {
    let app = TestApp::spawn_with(|_| {}, crate::harness::API_ONLY).await;
    let admin = app
        .key_with("webhooks:read webhooks:write deliveries:read usage:read admin")
        .await;
    app.subscribe("annotation.created", "http://127.0.0.1:9/hooks/a")
        .await;
    let (other_id, _) = create_consumer_with_key(&app.pg, "second consumer").await;

    let Some(browser) = open_console(&app).await else {
        return;
    };
    let origin = app.url("");
    sign_in(&browser, &admin, "Usage").await;
    browser.click("a[href='#/admin']").await;
    let table = browser
        .wait_for_text("#admin-table", "second consumer")
        .await;
    assert!(table.contains("test consumer"), "{table}");
    assert!(table.contains(&other_id.to_string()));
    assert!(table.contains("100,000"), "quota per day: {table}");
    browser.screenshots("admin").await;
    browser.assert_quiet_console(&[]).await;
    browser.assert_same_origin_and_no_violations(&origin).await;
    sign_out(&browser).await;
    browser.quit().await;
}

#[tokio::test]
async fn the_console_returns_to_sign_in_when_its_token_expires() {
    // The console signs out 5 s before the token's end, so 7 s leaves 2 s.
    let app = TestApp::spawn_with(
        |env| {
            env.insert("IHF_TOKEN_TTL", "7s".into());
        },
        crate::harness::API_ONLY,
    )
    .await;
    let Some(browser) = open_console(&app).await else {
        return;
    };
    browser.type_into("#api-key", &app.key).await;
    browser.click("#signin-button").await;
    browser
        .wait_for("the console", "!document.getElementById('bar').hidden")
        .await;
    browser
        .wait_for_text("#signin-message", "Your session expired")
        .await;
    assert!(!browser.shows("#view").await);
    assert!(!browser.shows("#bar").await);
    browser.assert_quiet_console(&[]).await;
    browser.quit().await;
}

/// A new browser on the console's sign-in page, watching for CSP violations
/// (None: no browser where the tests run, outside CI).
async fn open_console(app: &TestApp) -> Option<Browser> {
    let browser = Browser::start().await?;
    browser.goto(&app.url("/console")).await;
    browser
        .wait_for(
            "the sign-in form",
            "document.activeElement.id === 'api-key'",
        )
        .await;
    browser.watch_csp().await;
    Some(browser)
}
