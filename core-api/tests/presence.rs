//! Presence: gateways report who they hold, core keeps `{user:<id>}:presence` in
//! Redis, answers `GET /presence`, and announces online/offline to co-members
//! (offline only after the grace, so a reconnect does not flap).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::TestApp;
use core_api::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn presence(app: &TestApp, ids: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/presence?user_ids={ids}"), "dave")
        .await;
    r.expect(200);
    r.data().as_array().unwrap().clone()
}

fn grace(ms: u64) -> impl FnOnce(&mut std::collections::HashMap<String, String>) {
    move |v| {
        v.insert("PRESENCE_GRACE_MS".into(), ms.to_string());
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn online_then_offline_after_the_grace(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, grace(50)).await;
    app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    let r = app.report("DFW.0", &["alice"], &[]).await;
    assert_eq!(r["came_online"], 1);

    let p = presence(&app, "alice,bob,nobody").await;
    assert_eq!(
        p,
        vec![
            json!({"user_id": "alice", "online": true, "last_seen_at": null}),
            json!({"user_id": "bob", "online": true, "last_seen_at": null}),
            json!({"user_id": "nobody", "online": false, "last_seen_at": null}),
        ]
    );
    let online = edge.wait_for("user_online", 1).await;
    let about_alice: Vec<&Value> = online
        .iter()
        .filter(|e| e["data"]["user_id"] == "alice")
        .collect();
    assert_eq!(about_alice.len(), 1);
    assert_eq!(about_alice[0]["namespace"], "/messaging");
    assert_eq!(
        about_alice[0]["target"],
        json!({"kind": "gateways", "gateways": [{"gateway": "AMS.1", "user_ids": ["bob"]}]})
    );

    let before = chrono::Utc::now();
    app.report("DFW.0", &[], &["alice"]).await;
    let offline = edge.wait_for("user_offline", 1).await;
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0]["data"]["user_id"], "alice");
    assert_eq!(
        offline[0]["target"]["gateways"],
        json!([{"gateway": "AMS.1", "user_ids": ["bob"]}])
    );
    let last_seen: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(offline[0]["data"]["last_seen_at"].clone()).unwrap();
    assert!(last_seen >= before - chrono::Duration::milliseconds(5));
    let p = presence(&app, "alice").await;
    assert_eq!(p[0]["online"], false);
    assert_eq!(
        p[0]["last_seen_at"], offline[0]["data"]["last_seen_at"],
        "the announced time is the stored one"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_reconnect_within_the_grace_announces_nothing(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, grace(300)).await;
    app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    app.report("DFW.0", &["alice"], &[]).await;
    edge.wait_for("user_online", 1).await;

    let r = app.report("DFW.0", &[], &["alice"]).await;
    assert_eq!(r["went_offline"], 1);
    // within the grace she still counts as online, as nobody was told otherwise
    assert_eq!(presence(&app, "alice").await[0]["online"], true);
    // back on another gateway (a reconnect lands anywhere)
    let r = app.report("DFW.1", &["alice"], &[]).await;
    assert_eq!(r["came_online"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let about_alice = |name| {
        edge.named(name)
            .into_iter()
            .filter(|e| e["data"]["user_id"] == "alice")
            .count()
    };
    assert_eq!(about_alice("user_online"), 1, "only the first arrival");
    assert_eq!(about_alice("user_offline"), 0);
    assert_eq!(presence(&app, "alice").await[0]["online"], true);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn online_is_announced_to_co_members_only(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, grace(50)).await;
    app.conversation("alice", "group", &["bob", "carol"]).await;
    app.conversation("dave", "direct", &["erin"]).await;
    app.report("AMS.1", &["bob", "dave"], &[]).await;
    app.report("SIN.0", &["carol", "erin"], &[]).await;
    app.report("AMS.2", &["carol"], &[]).await;
    app.report("DFW.0", &["alice"], &[]).await;
    let online = edge.wait_for("user_online", 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let about_alice: Vec<Value> = edge
        .named("user_online")
        .into_iter()
        .filter(|e| e["data"]["user_id"] == "alice")
        .collect();
    assert_eq!(about_alice.len(), 1, "{online:?}");
    assert_eq!(
        about_alice[0]["target"]["gateways"],
        json!([
            {"gateway": "AMS.1", "user_ids": ["bob"]},
            {"gateway": "AMS.2", "user_ids": ["carol"]},
            {"gateway": "SIN.0", "user_ids": ["carol"]},
        ]),
        "dave and erin share nothing with alice"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn one_gateway_leaving_keeps_a_user_online_elsewhere(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, grace(20)).await;
    app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["bob"], &[]).await;
    app.report("DFW.0", &["alice"], &[]).await;
    app.report("AMS.1", &["alice"], &[]).await;
    let r = app.report("DFW.0", &[], &["alice"]).await;
    assert_eq!(r["went_offline"], 0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(edge.named("user_offline").is_empty());
    assert_eq!(presence(&app, "alice").await[0]["online"], true);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn entries_of_a_silent_gateway_go_stale(pool: PgPool) {
    let clock = ManualClock::at(chrono::Utc::now());
    let app = TestApp::spawn_full(pool, |_| {}, Arc::new(clock.clone())).await;
    app.report("DFW.0", &["alice"], &[]).await;
    clock.advance(chrono::Duration::seconds(299));
    // a periodic `present` keeps bob fresh, alice's gateway went quiet
    let body = json!({"gateway": "AMS.1", "present": ["bob"]});
    app.internal(Method::POST, "/internal/v1/presence", "", &body)
        .await
        .expect(200);
    assert_eq!(presence(&app, "alice").await[0]["online"], true);
    clock.advance(chrono::Duration::seconds(2));
    let p = presence(&app, "alice,bob").await;
    assert_eq!(p[0]["online"], false, "older than 300 s");
    assert_eq!(p[1]["online"], true);
    // the key itself carries the 300 s TTL
    let mut redis = app.state.cache.connection();
    let ttl: i64 = redis::cmd("TTL")
        .arg(app.state.cache.key(&core_api::cache::keys::presence("bob")))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((290..=300).contains(&ttl), "ttl {ttl}");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_reports_are_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let too_many: Vec<String> = (0..5001).map(|i| format!("u{i}")).collect();
    for body in [
        json!({"gateway": "", "arrived": ["a"]}),
        json!({"gateway": "G".repeat(65), "arrived": ["a"]}),
        json!({"gateway": "DFW.0", "present": too_many}),
        json!({"gateway": "DFW.0", "departed": [""]}),
        json!({"gateway": "DFW.0", "arrived": "alice"}),
    ] {
        app.internal(Method::POST, "/internal/v1/presence", "", &body)
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    // nothing was stored by the refused ones
    assert_eq!(presence(&app, "a").await[0]["online"], false);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn reports_must_be_signed_system_calls(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = json!({"gateway": "DFW.0", "arrived": ["alice"]});
    // signed, but on behalf of a user
    app.internal(Method::POST, "/internal/v1/presence", "alice", &body)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    // a TMS token is not a signature
    app.post("/internal/v1/presence", "alice", body.clone())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    // a bad signature
    let r = app
        .http
        .post(format!("{}/internal/v1/presence", app.base))
        .header(
            "x-internal-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header(
            "x-internal-nonce",
            uuid::Uuid::new_v4().simple().to_string(),
        )
        .header("x-internal-signature", "00".repeat(32))
        .json(&body)
        .send()
        .await
        .unwrap();
    TestApp::read(r)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    assert_eq!(presence(&app, "alice").await[0]["online"], false);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn get_presence_validates_and_needs_a_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for query in ["", "?user_ids=", "?user_ids=,,"] {
        app.get(&format!("/api/v1/presence{query}"), "alice")
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    let ids: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    app.get(
        &format!("/api/v1/presence?user_ids={}", ids.join(",")),
        "alice",
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    let hundred = ids[..100].join(",");
    let r = app
        .get(&format!("/api/v1/presence?user_ids={hundred}"), "alice")
        .await;
    r.expect(200);
    assert_eq!(r.data().as_array().unwrap().len(), 100);
    assert_eq!(r.data()[99]["user_id"], "u99");
    app.raw(Method::GET, "/api/v1/presence?user_ids=a", None, None)
        .await
        .expect_error(401, "TOKEN_MISSING");
}

/// Pushed presence only for DMs and groups of at most
/// `PRESENCE_PUSH_MAX_MEMBERS`: co-members of a larger group only are not
/// told (the one announcement names exactly who is).
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn presence_is_pushed_only_to_dms_and_small_groups(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("PRESENCE_PUSH_MAX_MEMBERS".into(), "2".into());
    })
    .await;
    app.conversation("alice", "direct", &["bob"]).await;
    app.conversation("alice", "group", &["erin"]).await; // 2 members: pushed
    app.conversation("alice", "group", &["carol", "dave"]).await; // 3: not pushed
    app.report("AMS.1", &["bob", "carol", "dave", "erin"], &[])
        .await;
    app.report("DFW.0", &["alice"], &[]).await;
    // (bob's own arrival may be announced to alice too, depending on timing)
    let mut n = 1;
    let online = loop {
        let online = edge.wait_for("user_online", n).await;
        if online.iter().any(|e| e["data"]["user_id"] == "alice") {
            break online;
        }
        n += 1;
    };
    let about_alice: Vec<&Value> = online
        .iter()
        .filter(|e| e["data"]["user_id"] == "alice")
        .collect();
    assert_eq!(about_alice.len(), 1, "{online:?}");
    assert_eq!(
        about_alice[0]["target"],
        json!({"kind": "gateways", "gateways": [{"gateway": "AMS.1", "user_ids": ["bob", "erin"]}]})
    );
    // the large group's members read it instead
    let p = presence(&app, "alice").await;
    assert_eq!(p[0]["online"], true);
}
