//! `POST /api/v1/webhooks/tms`: TMS's signed notices invalidate the profile
//! cache at once; a deleted user's sessions are closed at the edge. A bad,
//! stale or replayed signature is 401 and changes nothing.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{Reply, TestApp};
use core_api::cache::keys;
use core_api::clock::{Clock, ManualClock};
use serde_json::{json, Value};
use shared_auth::webhook_sig;
use sqlx::PgPool;
use tms_standin::{profile, Route};

const SECRET: &str = "test-tms-webhook-secret-0123456789abcdef01";

fn with_secret(v: &mut std::collections::HashMap<String, String>) {
    v.insert("TMS_WEBHOOK_SECRET".into(), SECRET.into());
}

async fn post(app: &TestApp, body: &str, signature: Option<String>) -> Reply {
    let mut req = app
        .http
        .post(format!("{}/api/v1/webhooks/tms", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("x-tms-signature", s);
    }
    TestApp::read(req.send().await.unwrap()).await
}

fn sign(body: &str, at: u64) -> String {
    webhook_sig::header_value(SECRET.as_bytes(), at, body.as_bytes())
}

fn event(kind: &str, user: &str) -> String {
    json!({ "id": "evt_1", "type": kind, "data": { "tms_user_id": user } }).to_string()
}

async fn cached(app: &TestApp, key: &str) -> bool {
    let mut conn = app.state.cache.connection();
    let n: i64 = redis::cmd("EXISTS")
        .arg(app.state.cache.key(key))
        .query_async(&mut conn)
        .await
        .unwrap();
    n == 1
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn user_updated_drops_the_cached_profile_so_the_next_read_is_fresh(pool: PgPool) {
    let app = TestApp::spawn_with(pool, with_secret).await;
    app.get("/api/v1/users/carol", "alice").await.expect(200);
    assert!(cached(&app, &keys::profile("carol")).await);
    app.tms.controls.add_user(profile("carol", "Caroline"));
    // still cached: the old name
    let before = app.get("/api/v1/users/carol", "alice").await;
    assert_ne!(before.data()["display_name"], "Caroline");

    let body = event("user.updated", "carol");
    let now = Utc::now().timestamp() as u64;
    let r = post(&app, &body, Some(sign(&body, now))).await;
    r.expect(200);
    assert_eq!(r.data(), &json!({ "handled": true }));
    assert!(!cached(&app, &keys::profile("carol")).await);
    assert!(
        cached(&app, &keys::stale_profile("carol")).await,
        "the stale copy stays for TMS outages"
    );
    let calls = app.tms.controls.requests(Route::User);
    let after = app.get("/api/v1/users/carol", "alice").await;
    assert_eq!(after.data()["display_name"], "Caroline");
    assert_eq!(app.tms.controls.requests(Route::User), calls + 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_missing_stale_and_replayed_signatures_are_401_and_change_nothing(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let app = TestApp::spawn_full(pool, with_secret, Arc::new(clock.clone())).await;
    app.get("/api/v1/users/carol", "alice").await.expect(200);
    let body = event("user.deleted", "carol");
    let now = clock.unix_secs();

    let forged = webhook_sig::header_value(
        b"another-secret-0123456789abcdef0123456",
        now,
        body.as_bytes(),
    );
    for signature in [
        None,
        Some(forged),
        Some(format!("t={now}")),
        Some("v1=00".to_string()),
        Some(sign(&body, now - webhook_sig::MAX_SKEW_SECS - 1)),
        Some(sign(&body, now + webhook_sig::MAX_SKEW_SECS + 1)),
        Some(sign(&event("user.deleted", "dave"), now)),
    ] {
        let r = post(&app, &body, signature.clone()).await;
        r.expect_error(401, "WEBHOOK_SIGNATURE_INVALID");
        assert!(
            cached(&app, &keys::profile("carol")).await,
            "{signature:?} changed the cache"
        );
    }

    let good = sign(&body, now);
    let other = event("user.updated", "dave");
    post(&app, &other, Some(sign(&other, now)))
        .await
        .expect(200);
    // the same delivery again, even minutes later inside the window: a replay
    let first = post(&app, &body, Some(good.clone())).await;
    first.expect(200);
    app.get("/api/v1/users/carol", "alice").await.expect(200);
    clock.advance(Duration::seconds(200));
    post(&app, &body, Some(good))
        .await
        .expect_error(401, "WEBHOOK_SIGNATURE_INVALID");
    assert!(
        cached(&app, &keys::profile("carol")).await,
        "the replay deleted nothing"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bodies_are_checked_after_the_signature_and_other_types_are_ignored(pool: PgPool) {
    let app = TestApp::spawn_with(pool, with_secret).await;
    let now = Utc::now().timestamp() as u64;
    for (body, code) in [
        ("not json".to_string(), "VALIDATION_ERROR"),
        (
            json!({"type": "user.updated"}).to_string(),
            "VALIDATION_ERROR",
        ),
        (event("user.updated", ""), "VALIDATION_ERROR"),
        (event("user.updated", &"x".repeat(200)), "VALIDATION_ERROR"),
    ] {
        post(&app, &body, Some(sign(&body, now)))
            .await
            .expect_error(422, code);
    }
    let other = event("team.renamed", "alice");
    let r = post(&app, &other, Some(sign(&other, now))).await;
    r.expect(200);
    assert_eq!(r.data(), &json!({ "handled": false }));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn without_a_secret_the_webhook_answers_503(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = event("user.updated", "carol");
    let now = Utc::now().timestamp() as u64;
    post(&app, &body, Some(sign(&body, now)))
        .await
        .expect_error(503, "SERVICE_UNAVAILABLE");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_deleted_user_is_disconnected_and_co_members_hear_of_updates(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, with_secret).await;
    app.conversation("alice", "direct", &["bob"]).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    let now = Utc::now().timestamp() as u64;

    let updated = event("user.updated", "bob");
    post(&app, &updated, Some(sign(&updated, now)))
        .await
        .expect(200);
    let heard = edge.wait_for("user_updated", 1).await;
    assert_eq!(heard[0]["namespace"], "/notifications");
    assert_eq!(heard[0]["data"], json!({ "user_id": "bob" }));
    assert_eq!(
        heard[0]["target"]["gateways"],
        json!([{ "gateway": "DFW.0", "user_ids": ["alice"] }])
    );

    let deleted = event("user.deleted", "bob");
    post(&app, &deleted, Some(sign(&deleted, now)))
        .await
        .expect(200);
    let closed = edge.wait_for("session_closed", 1).await;
    let closing: &Value = &closed[0];
    assert_eq!(closing["close_sessions"], true);
    assert_eq!(closing["data"], json!({ "reason": "user_deleted" }));
    assert_eq!(
        closing["target"]["gateways"],
        json!([{ "gateway": "DFW.0", "user_ids": ["bob"] }])
    );
}
