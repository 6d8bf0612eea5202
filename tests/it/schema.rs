//! The schema itself: statements, the append-only log, the capture trigger.

use std::time::Duration;

use futures_util::StreamExt;
use ihf_webhooks::db::sql;
use ihf_webhooks::delivery::event_id::event_time;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::harness::{TestApp, TestDb};

#[tokio::test]
async fn every_sql_statement_prepares_against_the_migrated_schema() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    for (file, text) in sql::ALL {
        if let Err(e) = client.prepare(text).await {
            panic!("sql/{file} does not prepare: {e}");
        }
    }
}

#[tokio::test]
async fn the_delivery_log_refuses_update_and_delete() {
    let app = TestApp::spawn().await;
    let client = &app.pg;
    let sub: uuid::Uuid = client
        .query_one(
            "INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             VALUES ($1, 'annotation.created', 'https://example.com/', 'whsec_x') RETURNING id",
            &[&app.consumer_id],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status) VALUES ($1, '{}', 'pending')",
            &[&sub],
        )
        .await
        .unwrap();
    let update = client
        .execute("UPDATE webhook_deliveries SET status = 'delivered'", &[])
        .await
        .unwrap_err();
    assert!(format!("{update:?}").contains("append-only"), "{update:?}");
    let delete = client
        .execute("DELETE FROM webhook_deliveries", &[])
        .await
        .unwrap_err();
    assert!(format!("{delete:?}").contains("append-only"), "{delete:?}");
}

#[tokio::test]
async fn the_delivery_log_refuses_truncate() {
    let db = TestDb::migrated().await;
    let client = db.client().await;
    let truncate = client
        .batch_execute("TRUNCATE webhook_deliveries")
        .await
        .unwrap_err();
    assert!(
        format!("{truncate:?}").contains("append-only"),
        "{truncate:?}"
    );
}

#[tokio::test]
async fn capture_records_the_whole_row_in_the_same_transaction() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    let tx = client.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO requirement_candidates (title, priority) VALUES ('a', 1), ('b', 2)",
        &[],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let events: i64 = client
        .query_one("SELECT count(*) FROM ihf_outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 0, "a rolled-back insert leaves no event");
    client
        .execute(
            "INSERT INTO requirement_candidates (title, priority) VALUES ('a', 1), ('b', 2)",
            &[],
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT event_type, data FROM ihf_outbox ORDER BY data->>'title'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let data: serde_json::Value = rows[0].get(1);
    assert_eq!(rows[0].get::<_, String>(0), "requirement_candidate.created");
    assert_eq!(data["title"], "a");
    assert_eq!(data["priority"], 1);
    assert!(
        data["id"].is_string() && data["created_at"].is_string() && data["status"] == "proposed"
    );
}

/// Runs the fan-out statement once: ten events, room for ten jobs, no
/// subscription or consumer busy.
async fn fan_out_once(tx: &tokio_postgres::Transaction<'_>) -> Vec<tokio_postgres::Row> {
    let no_busy: (Vec<uuid::Uuid>, Vec<i32>) = (Vec::new(), Vec::new());
    tx.query(
        sql::OUTBOX_FAN_OUT,
        &[
            &10_i64,
            &10_i64,
            &60_000_i64,
            &uuid::Uuid::new_v4(),
            &64_i64,
            &no_busy.0,
            &no_busy.1,
            &128_i64,
            &no_busy.0,
            &no_busy.1,
            &false,
        ],
    )
    .await
    .unwrap()
}

/// Runs the fan-out statement in a transaction that is rolled back; the
/// (annotation body, event id) of each job it made.
async fn fan_out_rolled_back(client: &mut tokio_postgres::Client) -> Vec<(String, uuid::Uuid)> {
    let tx = client.transaction().await.unwrap();
    let rows = fan_out_once(&tx).await;
    let mut ids: Vec<(String, uuid::Uuid)> = rows
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(r.get("body")).unwrap();
            let text = body["data"]["body"].as_str().unwrap().to_string();
            (text, r.get("event_id"))
        })
        .collect();
    ids.sort();
    tx.rollback().await.unwrap();
    ids
}

/// A subscriber to `annotation.created` and two annotations captured by one
/// statement (so at the same time).
async fn two_captured_annotations(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "WITH c AS (INSERT INTO api_consumers (name) VALUES ('c') RETURNING id) \
             INSERT INTO webhook_subscriptions (api_consumer_id, event_type, target_url, secret) \
             SELECT id, 'annotation.created', 'https://example.com/hook', \
                    'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM c; \
             INSERT INTO annotations (body) VALUES ('first'), ('second');",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn an_event_fanned_out_again_after_a_lost_commit_keeps_its_id() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    two_captured_annotations(&client).await;
    // The worker commits asynchronously: a crash can undo a fan-out whose
    // webhooks went out. A rollback loses it the same way.
    let first = fan_out_rolled_back(&mut client).await;
    let again = fan_out_rolled_back(&mut client).await;
    assert_eq!(first.len(), 2);
    assert_ne!(first[0].1, first[1].1);
    assert_eq!(first, again, "the same events, the same ids");
}

/// Events nobody subscribes to are taken with the rest, in the same round,
/// and make no job; the events between them get theirs.
#[tokio::test]
async fn the_fan_out_takes_events_nobody_wants_and_makes_jobs_for_the_rest() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    two_captured_annotations(&client).await;
    client
        .batch_execute(
            "INSERT INTO decision_records (decision) VALUES ('nobody subscribes');
             INSERT INTO annotations (body) VALUES ('third');
             INSERT INTO decision_records (decision) VALUES ('nor to this');",
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let rows = fan_out_once(&tx).await;
    let counts = |column: &str| rows[0].get::<_, i64>(column);
    assert_eq!(
        (counts("looked_at"), counts("events"), counts("jobs")),
        (5, 5, 3),
        "five events looked at and taken, three of them subscribed to"
    );
    let mut bodies: Vec<String> = rows
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(r.get("body")).unwrap();
            assert_eq!(body["type"], "annotation.created");
            body["data"]["body"].as_str().unwrap().to_string()
        })
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["first", "second", "third"]);
    let left: i64 = tx
        .query_one("SELECT count(*) FROM ihf_outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the events nobody wants left the outbox too");
    tx.rollback().await.unwrap();
}

/// RFC 9562's UUIDv7 layout over the derivation of migrations/V9: the
/// capture time in Unix milliseconds, version 7 and the RFC variant, every
/// other bit from md5(salt:seq:µs) of the captured row.
#[tokio::test]
async fn an_event_id_is_a_uuid_v7_of_the_capture_time_over_the_rows_derived_bits() {
    let db = TestDb::migrated().await;
    let mut client = db.client().await;
    two_captured_annotations(&client).await;
    let captured: Vec<(String, chrono::DateTime<chrono::Utc>, Vec<u8>)> = client
        .query(
            "SELECT o.data->>'body', o.occurred_at, \
                    decode(md5(i.event_id_salt::text || ':' || o.seq || ':' \
                               || (extract(epoch FROM o.occurred_at) * 1000000)::bigint), 'hex') \
               FROM ihf_outbox o CROSS JOIN ihf_installation i ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let ids = fan_out_rolled_back(&mut client).await;
    assert_eq!(ids.len(), 2);
    for ((body, id), (captured_body, at, md5)) in ids.iter().zip(&captured) {
        assert_eq!(body, captured_body);
        let to_the_ms = chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap();
        assert_eq!(event_time(id), Some(to_the_ms), "{id} captured at {at}");
        let b = id.as_bytes();
        assert_eq!(b[6] >> 4, 7, "version 7: {id}");
        assert_eq!(b[8] >> 6, 0b10, "RFC variant: {id}");
        assert_eq!(b[6] & 0x0f, md5[6] & 0x0f);
        assert_eq!(b[7], md5[7]);
        assert_eq!(b[8] & 0x3f, md5[8] & 0x3f);
        assert_eq!(&b[9..], &md5[9..]);
    }
}

#[tokio::test]
async fn the_capture_trigger_notifies_only_while_a_worker_waits() {
    let db = TestDb::migrated().await;
    let writer = db.client().await;
    let (listener, mut connection) = tokio_postgres::connect(&db.url(), NoTls).await.unwrap();
    let (tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.channel().to_string());
            }
        }
    });
    listener.batch_execute("LISTEN ihf_events").await.unwrap();

    writer
        .execute("INSERT INTO annotations (body) VALUES ('quiet')", &[])
        .await
        .unwrap();
    // A worker waits: it holds the doorbell lock exclusively on its LISTEN
    // connection (here, the test's listener).
    listener
        .simple_query("SELECT pg_advisory_lock(-1732109582, 1)")
        .await
        .unwrap();
    writer
        .execute("INSERT INTO annotations (body) VALUES ('ring')", &[])
        .await
        .unwrap();
    // The notification of the second insert arrives; had the first rung, it
    // would have been delivered (in commit order) before this one.
    let first = tokio::time::timeout(Duration::from_secs(10), notifications.recv())
        .await
        .expect("a waiting worker is rung");
    assert_eq!(first.as_deref(), Some("ihf_events"));
    listener
        .simple_query("SELECT pg_advisory_unlock(-1732109582, 1)")
        .await
        .unwrap();
    writer
        .execute("INSERT INTO annotations (body) VALUES ('quiet again')", &[])
        .await
        .unwrap();
    // A round trip on the listener connection flushes any pending notification.
    listener.simple_query("SELECT 1").await.unwrap();
    assert!(
        notifications.try_recv().is_err(),
        "a released lock rings nothing"
    );
    assert_eq!(
        writer
            .query_one("SELECT count(*) FROM ihf_outbox", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        3,
        "every insert is captured, rung or not"
    );
}

/// `schema.sql` is the schema as the migrations leave it, so a reader need not
/// replay the stack of migrations in their head (the capture trigger in V3 is
/// not the one running, for example). This test dumps a freshly migrated
/// database and compares; `IHF_WRITE_SCHEMA=1` rewrites the file instead.
#[tokio::test]
async fn schema_sql_is_what_the_migrations_make() {
    let db = TestDb::migrated().await;
    let out = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", "--dbname"])
        .arg(db.url())
        .output()
        .expect("pg_dump must be installed (it comes with PostgreSQL's client package)");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8(out.stdout).unwrap();
    let server_major = pg_dump_major(&dump);
    let actual = format!(
        "{}{}",
        schema_sql_header(&server_major),
        normalize_dump(&dump)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql");
    if std::env::var_os("IHF_WRITE_SCHEMA").is_some() {
        std::fs::write(path, &actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let committed_major = committed
        .lines()
        .find_map(|l| l.strip_prefix("-- Dumped from PostgreSQL "))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    if committed_major != server_major && std::env::var_os("CI").is_none() {
        // pg_dump's output differs between major versions; CI runs the one the
        // file was made with, and there a mismatch fails below.
        eprintln!(
            "schema_sql_is_what_the_migrations_make: NOT COMPARED: schema.sql was dumped from \
             PostgreSQL {committed_major}, this server is {server_major}"
        );
        return;
    }
    if committed != actual {
        let first = committed
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(actual.lines().count()));
        panic!(
            "schema.sql differs from what the migrations make (first at line {}: committed {:?}, \
             migrations {:?}); regenerate it with `IHF_WRITE_SCHEMA=1 cargo test --test it \
             schema_sql` and commit it",
            first + 1,
            committed.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn schema_sql_header(major: &str) -> String {
    format!(
        "-- The schema as the migrations in migrations/ leave it, with the stand-in\n\
         -- framework tables of sql/framework_fixture.sql. Generated, do not edit:\n\
         -- `IHF_WRITE_SCHEMA=1 cargo test --test it schema_sql` rewrites it, and that\n\
         -- test fails when it drifts from the migrations. Dated log partitions, made\n\
         -- at run time by partition upkeep, are left out.\n\
         -- Dumped from PostgreSQL {major}\n\n"
    )
}

/// The server's major version, from the dump's own header.
fn pg_dump_major(dump: &str) -> String {
    dump.lines()
        .find_map(|l| l.strip_prefix("-- Dumped from database version "))
        .and_then(|v| v.split(['.', ' ']).next())
        .unwrap_or("unknown")
        .to_owned()
}

/// Drops what varies between runs and versions but says nothing about the
/// schema: pg_dump's comment lines, session settings, the random `\restrict`
/// key of recent versions, and statements about dated log partitions.
fn normalize_dump(dump: &str) -> String {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in dump.lines() {
        let noise = line.starts_with("--")
            || line.starts_with("SET ")
            || line.starts_with("SELECT pg_catalog.set_config")
            || line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict");
        if noise || (line.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') && !inside_dollar_quote(&current) {
            statements.push(std::mem::take(&mut current));
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .filter(|s| !s.trim().is_empty() && !names_dated_partition(s))
        .map(|s| without_history_bound(&s))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The history partitions end at a time the migration picks (a little after
/// it ran): `TO ('<migration time>')` instead.
fn without_history_bound(statement: &str) -> String {
    const FROM: &str = "_history FOR VALUES FROM (MINVALUE) TO ('";
    match statement.find(FROM) {
        Some(at) => {
            let start = at + FROM.len();
            let end = start + statement[start..].find('\'').unwrap_or(0);
            format!(
                "{}<migration time>{}",
                &statement[..start],
                &statement[end..]
            )
        }
        None => statement.to_string(),
    }
}

/// A function body spans lines ending in `;` inside `$$ … $$`.
fn inside_dollar_quote(text: &str) -> bool {
    text.matches("$$").count() % 2 == 1
}

/// Partitions named after their start time (`webhook_deliveries_p20261202`,
/// `api_request_log_p202612021530`) exist only at run time.
fn names_dated_partition(statement: &str) -> bool {
    statement
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|word| {
            word.rsplit_once("_p").is_some_and(|(_, stamp)| {
                stamp.len() >= 8 && stamp.bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// A worker session on a fresh database whose queues VACUUM has just seen
/// empty: the statistics a generic plan is made from after a queue drains.
async fn worker_session_on_empty_queues(db: &TestDb) -> tokio_postgres::Client {
    let config =
        ihf_webhooks::db::pg_config(&db.url(), ihf_webhooks::db::PoolKind::Worker).unwrap();
    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("VACUUM ihf_outbox, ihf_jobs, webhook_subscriptions")
        .await
        .unwrap();
    client
}

/// The generic plan the worker would run `text` with, as EXPLAIN's JSON.
async fn generic_plan(
    client: &tokio_postgres::Client,
    name: &str,
    text: &str,
) -> serde_json::Value {
    let statement = client.prepare(text).await.unwrap();
    let types: Vec<&str> = statement.params().iter().map(|t| t.name()).collect();
    let nulls = vec!["NULL"; types.len()].join(", ");
    client
        .batch_execute(&format!("PREPARE {name}({}) AS {text}", types.join(", ")))
        .await
        .unwrap();
    let explained: String = client
        .simple_query(&format!("EXPLAIN (FORMAT JSON) EXECUTE {name}({nulls})"))
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap();
    let explained: serde_json::Value = serde_json::from_str(&explained).unwrap();
    explained[0]["Plan"].clone()
}

/// Every node of a plan, subplans and CTEs included.
fn plan_nodes(node: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut nodes = vec![node];
    if let Some(children) = node["Plans"].as_array() {
        nodes.extend(children.iter().flat_map(plan_nodes));
    }
    nodes
}

fn node_type(node: &serde_json::Value) -> &str {
    node["Node Type"].as_str().unwrap_or("")
}

/// Fails if `file`'s plan reads a queue with a sequential scan, which a plan
/// made while the queues were empty must not do once they hold a backlog.
fn assert_scans_no_queue(plan: &serde_json::Value, file: &str) {
    let scanned: Vec<&str> = plan_nodes(plan)
        .into_iter()
        .filter(|node| node_type(node) == "Seq Scan")
        .filter_map(|node| node["Relation Name"].as_str())
        .filter(|table| matches!(*table, "ihf_outbox" | "ihf_jobs"))
        .collect();
    assert!(
        scanned.is_empty(),
        "sql/{file} scans {scanned:?}:\n{plan:#}"
    );
}

/// The recorder's statements are planned once, generically, from the queue's
/// statistics of the moment (the worker's sessions force generic plans), and
/// a queue that VACUUM last saw empty is estimated at one row. A join between
/// the batch and the table then became a nested loop that rescanned the whole
/// batch for every job: ~330 ms for 1 000 results. These statements find each
/// row's values by binary search instead, so no plan of theirs joins at all.
#[tokio::test]
async fn the_recorders_statements_need_no_join_whatever_the_statistics() {
    let db = TestDb::migrated().await;
    let client = worker_session_on_empty_queues(&db).await;
    let statements = [
        ("jobs_finish.sql", sql::JOBS_FINISH),
        ("jobs_release.sql", sql::JOBS_RELEASE),
        (
            "subscriptions_record_health.sql",
            sql::SUBSCRIPTIONS_RECORD_HEALTH,
        ),
    ];
    for (n, (file, text)) in statements.into_iter().enumerate() {
        let plan = generic_plan(&client, &format!("s{n}"), text).await;
        let joins: Vec<&str> = plan_nodes(&plan)
            .into_iter()
            .map(node_type)
            .filter(|t| t.contains("Loop") || t.contains("Join"))
            .collect();
        assert!(joins.is_empty(), "sql/{file} joins ({joins:?}):\n{plan:#}");
    }
}

/// The same exposure in the fan-out, planned while the outbox was empty and
/// run once it holds thousands of events: it scanned the outbox three times
/// per round and matched jobs to events by rescanning one list for every
/// entry of the other (50-90 ms per round of 400 on a 20 000-event outbox,
/// against 10-12 ms). In its plan every queue is reached through an index,
/// and a nested loop either passes each row into a lookup or pairs one row
/// (an aggregate or the batch's counts) with the other side.
#[tokio::test]
async fn the_fan_out_scans_no_queue_and_rescans_no_list_whatever_the_statistics() {
    let db = TestDb::migrated().await;
    let client = worker_session_on_empty_queues(&db).await;
    let plan = generic_plan(&client, "fan_out", sql::OUTBOX_FAN_OUT).await;
    assert_scans_no_queue(&plan, "outbox_fan_out.sql");
    let nodes = plan_nodes(&plan);
    for node in &nodes {
        if node_type(node) != "Nested Loop" {
            continue;
        }
        // A node's "Plans" also holds its CTEs and subplans.
        let side = |relationship: &str| {
            node["Plans"]
                .as_array()
                .and_then(|plans| {
                    plans
                        .iter()
                        .find(|p| p["Parent Relationship"] == relationship)
                })
                .unwrap()
        };
        let outer = side("Outer");
        let one_row = match node_type(outer) {
            "Aggregate" => outer["Strategy"] == "Plain",
            "Result" => outer["Plans"].is_null(),
            _ => false,
        };
        // A join filter pairs each row of one side with every row of the
        // other; a lookup passes the outer row into the inner side instead.
        assert!(
            node["Join Filter"].is_null() || one_row,
            "sql/outbox_fan_out.sql pairs every {} with every {}:\n{plan:#}",
            node_type(outer),
            node_type(side("Inner"))
        );
    }
    let indexed = nodes
        .iter()
        .filter(|n| n["Relation Name"] == "ihf_outbox" && n["Index Name"].is_string())
        .count();
    assert!(
        indexed >= 2,
        "the outbox is read and locked through its index:\n{plan:#}"
    );
    assert!(
        nodes
            .iter()
            .any(|n| n["Relation Name"] == "ihf_outbox" && node_type(n) == "Tid Scan"),
        "the fan-out deletes the rows it locked by their ctid:\n{plan:#}"
    );
}

/// PostgreSQL decides on JIT compilation from a plan's estimated cost, and
/// the worker's generic plans cost more as the queue grows: a fan-out planned
/// on a 1 000 000-event outbox was compiled on every run, 65-140 ms for a
/// round that takes a few. Every session the service opens has it off.
#[tokio::test]
async fn the_services_sessions_never_jit_compile() {
    let db = TestDb::migrated().await;
    for kind in [
        ihf_webhooks::db::PoolKind::Api,
        ihf_webhooks::db::PoolKind::Worker,
    ] {
        let config = ihf_webhooks::db::pg_config(&db.url(), kind).unwrap();
        let (client, conn) = config.connect(NoTls).await.unwrap();
        tokio::spawn(conn);
        let jit: String = client.query_one("SHOW jit", &[]).await.unwrap().get(0);
        assert_eq!(jit, "off", "{kind:?}");
    }
}

/// The queue gauges count due jobs of both kinds, waiting and with a lapsed
/// lease, through their partial indexes: a backlog fills `ihf_jobs` with
/// jobs in flight and dead rows that a sample every few seconds must not
/// read (a whole-table scan took 30-90 ms per sample in a 1 000 000-event
/// backlog).
#[tokio::test]
async fn the_queue_gauges_count_due_jobs_through_their_indexes() {
    let db = TestDb::migrated().await;
    let client = worker_session_on_empty_queues(&db).await;
    let plan = generic_plan(&client, "depth", sql::JOBS_QUEUE_DEPTH).await;
    assert_scans_no_queue(&plan, "jobs_queue_depth.sql");
    client
        .batch_execute(
            "INSERT INTO api_consumers (id, name) VALUES ('00000000-0000-0000-0000-0000000000c1', 'c');
             INSERT INTO webhook_subscriptions (id, api_consumer_id, event_type, target_url, secret)
             VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000c1',
                     'annotation.created', 'https://example.com/', 'whsec_x');
             INSERT INTO ihf_jobs (subscription_id, event_id, payload, run_at, claimed_by)
             SELECT '00000000-0000-0000-0000-0000000000a1', gen_random_uuid(), '{}', now() + d, c
               FROM (VALUES (interval '-10 s', NULL::uuid),             -- waiting, due
                            (interval '1 h', NULL),                      -- waiting, a retry to come
                            (interval '-20 s', gen_random_uuid()),       -- its lease ran out
                            (interval '30 s', gen_random_uuid())) j(d, c);",
        )
        .await
        .unwrap();
    let row = client
        .query_one(sql::JOBS_QUEUE_DEPTH, &[&100_000_i64])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>("due"), 2);
    let oldest: f64 = row.get("oldest_due_seconds");
    assert!((20.0..25.0).contains(&oldest), "oldest due {oldest} s");
    let capped = client
        .query_one(sql::JOBS_QUEUE_DEPTH, &[&1_i64])
        .await
        .unwrap();
    assert_eq!(capped.get::<_, i64>("due"), 1, "the count stops at its cap");
}
