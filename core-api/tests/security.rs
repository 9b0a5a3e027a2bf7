//! Security depth at core (issue 18): token lifetime, hostile ids that
//! would move the TMS request, text Postgres refuses, bounded attachment
//! fields and a capped webhook signature header. Each refusal is a clear
//! error in the envelope and changes nothing.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::json;
use shared_auth::webhook_sig;
use sqlx::PgPool;
use tms_standin::{Route, TokenRequest};

async fn messages(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_token_living_longer_than_the_maximum_is_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("JWT_MAX_LIFETIME_SECS".into(), "7200".into());
    })
    .await;
    let long = app
        .tms
        .issue(&TokenRequest::new("alice").ttl_secs(7201))
        .unwrap()
        .token;
    app.raw(Method::GET, "/api/v1/auth/me", Some(&long), None)
        .await
        .expect_error(401, "TOKEN_LIFETIME_TOO_LONG");
    let ok = app
        .tms
        .issue(&TokenRequest::new("alice").ttl_secs(7200))
        .unwrap()
        .token;
    app.raw(Method::GET, "/api/v1/auth/me", Some(&ok), None)
        .await
        .expect(200);
    // the default: a day
    let year_3000 = app
        .tms
        .issue(&TokenRequest::new("alice").claim("exp", json!(32_503_680_000u64)))
        .unwrap()
        .token;
    app.raw(Method::GET, "/api/v1/auth/me", Some(&year_3000), None)
        .await
        .expect_error(401, "TOKEN_LIFETIME_TOO_LONG");
}

/// A GET with the path exactly as given: HTTP clients (reqwest, fetch)
/// resolve `%2E%2E` themselves, an attacker's raw socket does not.
async fn raw_get(app: &TestApp, path: &str, token: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    // the body may be chunked: take the JSON object inside
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    (status, serde_json::from_str(json).unwrap_or_default())
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn ids_never_change_the_tms_request_path(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.token("alice");
    let before = app.tms.controls.stats();
    for dots in ["%2E%2E", "%2e%2e", "%2E", ".%2E"] {
        let (status, body) = raw_get(&app, &format!("/api/v1/users/{dots}"), &token).await;
        assert_eq!(status, 422, "{dots}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{dots}: {body}");
    }
    let after = app.tms.controls.stats();
    assert_eq!(
        (after.user, after.health, after.users_batch),
        (before.user, before.health, before.users_batch),
        "TMS was not called"
    );
    // `/` and `%` stay inside the one segment: TMS is asked for that id, which it does not know
    for id in ["a%2Fb", "a%252E%252E", "alice%2F..%2Fbob"] {
        let (status, body) = raw_get(&app, &format!("/api/v1/users/{id}"), &token).await;
        assert_eq!(status, 404, "{id}: {body}");
    }
    assert_eq!(app.tms.controls.requests(Route::User), before.user + 3);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn nul_in_text_is_a_422_before_any_batch(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let conv = app.conversation("alice", "direct", &["bob"]).await;
    let send = |content: &str, id: &str| json!({ "conversation_id": conv, "type": "text", "content": content, "client_msg_id": id });
    app.post("/api/v1/messages", "alice", send("a\u{0}b", "m-nul"))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.post("/api/v1/messages", "alice", send("hi", "m\u{0}"))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    assert_eq!(messages(&app).await, 0);
    let r = app
        .post("/api/v1/messages", "alice", send("hi", "m-ok"))
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/api/v1/messages/{id}"),
        "alice",
        Some(json!({ "content": "x\u{0}" })),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    let group = json!({ "type": "group", "title": "t\u{0}", "member_ids": ["bob"] });
    app.post("/api/v1/conversations", "alice", group)
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let content: String = sqlx::query_scalar("SELECT content FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(content, "hi");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn attachment_fields_are_bounded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let conv = app.conversation("alice", "direct", &["bob"]).await;
    let image = |extra: serde_json::Value| {
        let mut attachment = json!({
            "object_key": "uploads/alice/x.png", "content_type": "image/png", "size_bytes": 10
        });
        for (k, v) in extra.as_object().unwrap() {
            attachment[k] = v.clone();
        }
        json!({ "conversation_id": conv, "type": "image", "attachment": attachment })
    };
    for (extra, field) in [
        (json!({ "file_name": "a".repeat(256) }), "file_name"),
        (json!({ "width": -1 }), "width"),
        (json!({ "height": 100_001 }), "height"),
        (json!({ "duration_ms": -5 }), "duration_ms"),
    ] {
        let r = app.post("/api/v1/messages", "alice", image(extra)).await;
        r.expect_error(422, "VALIDATION_ERROR");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
    }
    assert_eq!(messages(&app).await, 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_hostile_webhook_signature_header_is_refused_unhashed(pool: PgPool) {
    const SECRET: &str = "test-tms-webhook-secret-0123456789abcdef01";
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("TMS_WEBHOOK_SECRET".into(), SECRET.into());
    })
    .await;
    let body = json!({ "id": "evt_h", "type": "user.updated", "data": { "tms_user_id": "bob" } })
        .to_string();
    let now = app.state.clock.unix_secs();
    let good = webhook_sig::sign(SECRET.as_bytes(), now, body.as_bytes());
    let post = |header: String| {
        app.http
            .post(format!("{}/api/v1/webhooks/tms", app.base))
            .header("content-type", "application/json")
            .header("x-tms-signature", header)
            .body(body.clone())
            .send()
    };
    // many candidates (the good one last) and an oversized header
    let many = format!(
        "t={now}{},v1={good}",
        ",v1=00".repeat(webhook_sig::MAX_CANDIDATES)
    );
    let huge = format!(
        "t={now},v1={good},{}",
        "x".repeat(webhook_sig::MAX_HEADER_BYTES)
    );
    for header in [many, huge] {
        TestApp::read(post(header).await.unwrap())
            .await
            .expect_error(401, "WEBHOOK_SIGNATURE_INVALID");
    }
    TestApp::read(post(format!("t={now},v1=00,v1={good}")).await.unwrap())
        .await
        .expect(200);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn socket_joins_receipts_and_call_events_have_per_user_limits(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("RATE_LIMIT_SOCKET_JOINS_PER_SECOND".into(), "2".into());
        v.insert("RATE_LIMIT_SOCKET_RECEIPTS_PER_SECOND".into(), "2".into());
        v.insert(
            "RATE_LIMIT_SOCKET_CALL_EVENTS_PER_SECOND".into(),
            "2".into(),
        );
    })
    .await;
    let conv = app.conversation("alice", "group", &["bob"]).await;
    let membership = format!("/internal/v1/conversations/{conv}/membership");
    for _ in 0..2 {
        app.internal(Method::GET, &membership, "alice", &json!({}))
            .await
            .expect(200);
    }
    app.internal(Method::GET, &membership, "alice", &json!({}))
        .await
        .expect_error(429, "RATE_LIMITED");
    // per user: bob still joins
    app.internal(Method::GET, &membership, "bob", &json!({}))
        .await
        .expect(200);

    let message = app.send("alice", &conv, "hi").await;
    let receipt = json!({ "conversation_id": conv, "message_id": message["id"] });
    for _ in 0..2 {
        app.internal(Method::POST, "/internal/v1/receipts/read", "bob", &receipt)
            .await
            .expect(200);
    }
    app.internal(Method::POST, "/internal/v1/receipts/read", "bob", &receipt)
        .await
        .expect_error(429, "RATE_LIMITED");

    // call events: the third refused before core looks at the call
    let missing = "/internal/v1/calls/00000000-0000-0000-0000-000000000001/end";
    for _ in 0..2 {
        app.internal(Method::POST, missing, "alice", &json!({}))
            .await
            .expect_error(404, "NOT_FOUND");
    }
    app.internal(Method::POST, missing, "alice", &json!({}))
        .await
        .expect_error(429, "RATE_LIMITED");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_user_deleted_in_tms_is_refused_at_once(pool: PgPool) {
    const SECRET: &str = "test-tms-webhook-secret-0123456789abcdef01";
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("TMS_WEBHOOK_SECRET".into(), SECRET.into());
    })
    .await;
    let bob = app.token("bob");
    app.raw(Method::GET, "/api/v1/auth/me", Some(&bob), None)
        .await
        .expect(200);
    let body = json!({ "id": "evt_d", "type": "user.deleted", "data": { "tms_user_id": "bob" } })
        .to_string();
    let now = app.state.clock.unix_secs();
    let r = app
        .http
        .post(format!("{}/api/v1/webhooks/tms", app.base))
        .header("content-type", "application/json")
        .header(
            "x-tms-signature",
            webhook_sig::header_value(SECRET.as_bytes(), now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await.expect(200);

    // his unexpired token, straight to core and signed by the edge alike
    app.raw(Method::GET, "/api/v1/auth/me", Some(&bob), None)
        .await
        .expect_error(401, "TOKEN_REVOKED");
    app.internal(
        Method::GET,
        "/internal/v1/conversations/00000000-0000-0000-0000-000000000000/membership",
        "bob",
        &json!({}),
    )
    .await
    .expect_error(401, "TOKEN_REVOKED");
    app.get("/api/v1/auth/me", "alice").await.expect(200);
    // the list the edge copies
    let listed = app
        .internal(Method::GET, "/internal/v1/denied-users", "", &json!({}))
        .await;
    listed.expect(200);
    assert_eq!(listed.data()["users"][0]["tms_user_id"], "bob");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM denied_users WHERE tms_user_id = 'bob'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn slow_headers_and_slow_requests_are_cut_off(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("HEADER_READ_TIMEOUT_MS".into(), "300".into());
        v.insert("REQUEST_TIMEOUT_MS".into(), "500".into());
        v.insert("TMS_TIMEOUT_MS".into(), "5000".into());
    })
    .await;
    // headers that never end: the connection is closed, not held
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(
        read.is_ok(),
        "the connection was held past the header-read timeout"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    // a request whose handler waits on a slow TMS: 503 at the request timeout
    app.tms
        .controls
        .set_delay(std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    app.get("/api/v1/users/carol", "alice")
        .await
        .expect_error(503, "SERVICE_UNAVAILABLE");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    app.tms.controls.set_delay(std::time::Duration::ZERO);
    app.get("/api/v1/users/carol", "alice").await.expect(200);
}
