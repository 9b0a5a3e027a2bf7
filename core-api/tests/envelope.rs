//! Every failure answers in the envelope with the right status, including
//! failures axum produces before a handler runs.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::TestApp;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn health_live_and_ready(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let live = app.raw(Method::GET, "/health/live", None, None).await;
    live.expect(200);
    assert_eq!(live.data()["status"], "ok");
    let ready = app.raw(Method::GET, "/health/ready", None, None).await;
    ready.expect(200);
    assert_eq!(ready.data()["checks"]["postgres"], "ok");
    assert_eq!(ready.data()["checks"]["redis"], "ok");
    assert!(
        ready.headers.contains_key("x-request-id"),
        "request id is returned"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn unknown_route_and_wrong_method(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.raw(Method::GET, "/nope", None, None)
        .await
        .expect_error(404, "NOT_FOUND");
    app.raw(Method::DELETE, "/health/live", None, None)
        .await
        .expect_error(405, "METHOD_NOT_ALLOWED");
    // authenticated routes answer a wrong method after authentication
    app.call(Method::PUT, "/api/v1/messages", "alice", None)
        .await
        .expect_error(405, "METHOD_NOT_ALLOWED");
    app.get("/api/v1/no-such-thing", "alice")
        .await
        .expect_error(404, "NOT_FOUND");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn malformed_bodies(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.token("alice");
    let url = format!("{}/api/v1/conversations", app.base);
    let send = |body: String, content_type: Option<&'static str>| {
        let mut req = app.http.post(&url).bearer_auth(&token).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };

    let r = TestApp::read(
        send("{\"type\":".into(), Some("application/json"))
            .await
            .unwrap(),
    )
    .await;
    r.expect_error(400, "INVALID_JSON");

    let r = TestApp::read(
        send(
            json!({"type": 5, "member_ids": "bob"}).to_string(),
            Some("application/json"),
        )
        .await
        .unwrap(),
    )
    .await;
    r.expect_error(422, "VALIDATION_ERROR");

    let r = TestApp::read(
        send(
            json!({"type": "direct", "member_ids": ["bob"]}).to_string(),
            None,
        )
        .await
        .unwrap(),
    )
    .await;
    r.expect_error(415, "UNSUPPORTED_MEDIA_TYPE");

    let huge = json!({"type": "group", "title": "x".repeat(300 * 1024), "member_ids": ["bob"]})
        .to_string();
    let r = TestApp::read(send(huge, Some("application/json")).await.unwrap()).await;
    r.expect_error(413, "PAYLOAD_TOO_LARGE");

    let r = app.get("/api/v1/conversations/not-a-uuid", "alice").await;
    r.expect_error(422, "VALIDATION_ERROR");
    let r = app.get("/api/v1/conversations?limit=-1", "alice").await;
    r.expect_error(422, "VALIDATION_ERROR");
    let r = app.get("/api/v1/conversations?limit=1000", "alice").await;
    r.expect_error(422, "VALIDATION_ERROR");
    let r = app.get("/api/v1/conversations?cursor=%%%", "alice").await;
    r.expect_error(422, "VALIDATION_ERROR");
    // well-formed but forged cursors: times Postgres cannot hold, ids that are not uuids
    for position in [
        "-300000000000000000_00000000-0000-0000-0000-000000000000",
        "9223372036854775807_00000000-0000-0000-0000-000000000000",
        "0_not-a-uuid",
        "no-separator",
    ] {
        let cursor = URL_SAFE_NO_PAD.encode(position);
        let r = app
            .get(&format!("/api/v1/conversations?cursor={cursor}"), "alice")
            .await;
        r.expect_error(422, "VALIDATION_ERROR");
    }

    // nothing was half-written by any of the above
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);

    // a forged message cursor, to a conversation the caller is in: the cursor
    // itself is refused (not the conversation)
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let messages = format!("/api/v1/conversations/{dm}/messages");
    app.get(&messages, "alice").await.expect(200);
    for position in ["-5", "x", "9223372036854775808"] {
        let cursor = URL_SAFE_NO_PAD.encode(position);
        app.get(&format!("{messages}?cursor={cursor}"), "alice")
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
}
