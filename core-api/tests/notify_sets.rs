//! Who hears a new message on `/notifications`: core keeps per conversation
//! the gateways registered as holding online members
//! (`{conv:<id>}:gateways`), updated when presence or membership changes,
//! never per message; an event names only those gateways, with their
//! registration stamps, and a gateway holding no member prunes itself
//! unless a registration came since. Real Postgres and Redis; the edge is a
//! stand-in.

mod common;
#[allow(dead_code)]
#[path = "faults/procs.rs"]
mod procs;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The gateways an event names for `/notifications`, with their stamps.
fn notified(event: &Value) -> Vec<(String, u64)> {
    event["target"]["notify"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|g| {
                    let keys: Vec<&String> = g.as_object().unwrap().keys().collect();
                    assert_eq!(
                        keys,
                        ["gateway", "stamp"],
                        "a gateway and its stamp, no users"
                    );
                    (
                        g["gateway"].as_str().unwrap().to_string(),
                        g["stamp"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn names(gateways: &[(String, u64)]) -> Vec<&str> {
    gateways.iter().map(|(g, _)| g.as_str()).collect()
}

async fn pushed_for(edge: &common::edge::EdgeStandIn, message: &Value) -> Value {
    let id = message["id"].clone();
    let found = edge
        .wait_for_where("new_message", |e| e["data"]["id"] == id)
        .await;
    found
        .into_iter()
        .find(|e| e["data"]["id"] == id)
        .expect("pushed")
}

async fn prune(app: &TestApp, conversation: &str, gateway: &str, stamp: u64) -> bool {
    let r = app
        .internal(
            Method::POST,
            &format!("/internal/v1/conversations/{conversation}/gateways/prune"),
            "",
            &json!({"gateway": gateway, "stamp": stamp}),
        )
        .await;
    r.expect(200);
    r.data()["removed"].as_bool().unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_event_names_the_gateways_of_online_members_never_the_members(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    // alice on two gateways, bob next to her, carol offline
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    app.report("AMS.1", &["alice"], &[]).await;
    let sent = app.send("alice", &group, "hello").await;
    let event = pushed_for(&edge, &sent).await;
    let gateways = notified(&event);
    assert_eq!(names(&gateways), ["AMS.1", "DFW.0"]);
    assert!(gateways[0].1 > gateways[1].1, "AMS.1 registered last");
    let target = event["target"].to_string();
    for user in ["alice", "bob", "carol", "user_ids"] {
        assert!(!target.contains(user), "{target}");
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_member_added_while_online_registers_their_gateway_before_the_next_message(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.report("DFW.0", &["alice"], &[]).await;
    // carol is online elsewhere, in no conversation with them yet
    app.report("AMS.1", &["carol"], &[]).await;
    let before = app.send("alice", &group, "before").await;
    assert_eq!(
        names(&notified(&pushed_for(&edge, &before).await)),
        ["DFW.0"]
    );
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["carol"]}),
    )
    .await
    .expect(200);
    let after = app.send("alice", &group, "after").await;
    assert_eq!(
        names(&notified(&pushed_for(&edge, &after).await)),
        ["AMS.1", "DFW.0"],
        "carol's gateway hears it without her reconnecting"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_new_conversation_registers_the_gateways_of_its_online_members(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    app.report("DFW.0", &["alice"], &[]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let sent = app.send("alice", &dm, "hi").await;
    assert_eq!(
        names(&notified(&pushed_for(&edge, &sent).await)),
        ["AMS.1", "DFW.0"]
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_gateway_without_members_is_pruned_unless_a_registration_came_since(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.report("DFW.0", &["alice"], &[]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    let first = app.send("alice", &group, "one").await;
    let gateways = notified(&pushed_for(&edge, &first).await);
    assert_eq!(names(&gateways), ["AMS.1", "DFW.0"]);
    let seen = gateways[0].1;

    // bob left AMS.1 and came back after the gateway checked: its answer to
    // the first message names the stamp it saw, older than his new registration
    app.report("AMS.1", &[], &["bob"]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    assert!(
        !prune(&app, &group, "AMS.1", seen).await,
        "a registration made after the check stands"
    );
    let second = app.send("alice", &group, "two").await;
    let gateways = notified(&pushed_for(&edge, &second).await);
    assert_eq!(names(&gateways), ["AMS.1", "DFW.0"]);
    let newer = gateways[0].1;
    assert!(newer > seen);

    // an answer at the current stamp removes it; the next message skips AMS.1
    assert!(prune(&app, &group, "AMS.1", newer).await);
    assert!(!prune(&app, &group, "AMS.1", newer).await, "once");
    let third = app.send("alice", &group, "three").await;
    assert_eq!(
        names(&notified(&pushed_for(&edge, &third).await)),
        ["DFW.0"]
    );

    // a system call only, with a gateway name core accepts
    let by_user = app
        .internal(
            Method::POST,
            &format!("/internal/v1/conversations/{group}/gateways/prune"),
            "alice",
            &json!({"gateway": "DFW.0", "stamp": 1}),
        )
        .await;
    by_user.expect_error(401, "INTERNAL_AUTH_FAILED");
    let long = app
        .internal(
            Method::POST,
            &format!("/internal/v1/conversations/{group}/gateways/prune"),
            "",
            &json!({"gateway": "x".repeat(65), "stamp": 1}),
        )
        .await;
    long.expect_error(422, "VALIDATION_ERROR");
    // and the refused calls changed nothing: DFW.0 is still notified
    let fourth = app.send("alice", &group, "four").await;
    assert_eq!(
        names(&notified(&pushed_for(&edge, &fourth).await)),
        ["DFW.0"]
    );
}

/// Redis commands (from `INFO commandstats` of a private server) over `n`
/// messages to one conversation, once the edge stand-in has them all; and
/// the bytes of the last event.
async fn cost_of_messages(
    app: &TestApp,
    edge: &common::edge::EdgeStandIn,
    redis: &mut redis::aio::MultiplexedConnection,
    conversation: &str,
    n: usize,
) -> (u64, usize) {
    let before = commands(redis).await;
    let mut last = Value::Null;
    for i in 0..n {
        let sent = app.send("alice", conversation, &format!("m{i}")).await;
        last = pushed_for(edge, &sent).await;
    }
    let after = commands(redis).await;
    // minus the INFO call of the first sample
    (after - before - 1, serde_json::to_vec(&last).unwrap().len())
}

async fn commands(redis: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(redis)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| l.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next()?.parse::<u64>().ok())
        .sum()
}

/// A group of `k` members (alice, `first`, then `{tag}-m2..`, inserted
/// straight into Postgres); all of them online, over four gateways.
async fn online_group(app: &TestApp, k: usize, first: &str, tag: &str) -> String {
    let group = app.conversation("alice", "group", &[first]).await;
    let users: Vec<String> = (2..k).map(|i| format!("{tag}-m{i}")).collect();
    sqlx::query(
        "WITH u AS (INSERT INTO users (tms_user_id) SELECT unnest($1::text[]) RETURNING id)
         INSERT INTO conversation_members (conversation_id, user_id) SELECT $2::uuid, id FROM u",
    )
    .bind(&users)
    .bind(uuid::Uuid::parse_str(&group).unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let mut everyone: Vec<String> = vec!["alice".into(), first.into()];
    everyone.extend(users);
    for (g, chunk) in everyone.chunks(k.div_ceil(4)).enumerate() {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        app.report(&format!("GW.{g}"), &chunk, &[]).await;
    }
    group
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_work_and_bytes_per_message_do_not_grow_with_the_group(pool: PgPool) {
    let server = procs::RedisServer::start().await;
    let url = server.url();
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("REDIS_URL".into(), url);
        // no presence pushes: only the messages' own work is counted
        v.insert("PRESENCE_PUSH_MAX_MEMBERS".into(), "0".into());
    })
    .await;
    let small = online_group(&app, 20, "bob", "s").await;
    let large = online_group(&app, 2_000, "carol", "l").await;
    let mut redis = server.client().await;
    // the first message of each warms the caches its send path uses
    cost_of_messages(&app, &edge, &mut redis, &small, 1).await;
    cost_of_messages(&app, &edge, &mut redis, &large, 1).await;
    let n = 10;
    let (small_cmds, small_bytes) = cost_of_messages(&app, &edge, &mut redis, &small, n).await;
    let (large_cmds, large_bytes) = cost_of_messages(&app, &edge, &mut redis, &large, n).await;
    println!(
        "per message: K=20 {} Redis commands, {small_bytes} bytes; K=2000 {} commands, {large_bytes} bytes",
        small_cmds as f64 / n as f64,
        large_cmds as f64 / n as f64,
    );
    assert!(
        large_cmds <= small_cmds + 2,
        "Redis commands for {n} messages: K=20 {small_cmds}, K=2000 {large_cmds}"
    );
    assert!(
        large_bytes <= small_bytes + 64,
        "event bytes: K=20 {small_bytes}, K=2000 {large_bytes}"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_unreadable_gateway_set_drops_only_the_notify_part(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    // a key of the wrong type makes the read fail, as a Redis error would
    let id = uuid::Uuid::parse_str(&group).unwrap();
    let key = app
        .state
        .cache
        .key(&core_api::cache::keys::notify_gateways(id));
    let mut redis = app.state.cache.connection();
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg("not a hash")
        .query_async(&mut redis)
        .await
        .unwrap();
    let sent = app.send("alice", &group, "to the room still").await;
    let event = pushed_for(&edge, &sent).await;
    assert_eq!(
        event["target"],
        json!({"kind": "conversation", "conversation_id": group}),
        "the Room part goes, without notify"
    );
    let stats = app.state.fanout.stats().unwrap();
    assert_eq!(
        stats.unresolved.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
