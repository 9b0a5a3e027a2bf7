//! Per-user rate limits at core (GCRA in Redis, the clock injected): the API
//! limit on `/api/v1` (429 + headers + envelope, nothing stored), one budget
//! for the edge's signed identity and a direct TMS JWT, the socket-send limit
//! on the internal send path, the upload-URL kind through the service API,
//! and the Redis script against the pure GCRA.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use common::{Reply, TestApp, RATE_LIMIT_VARS};
use core_api::clock::{Clock, ManualClock};
use core_api::error::AppError;
use core_api::rate_limit::gcra::{self, Quota};
use core_api::rate_limit::{Checked, LimitKind};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The app with core's default limits, on a clock that moves only by hand.
async fn app_with_defaults(pool: PgPool) -> (TestApp, ManualClock) {
    app_with(pool, &[]).await
}

/// The app with the given limits (the rest at core's defaults).
async fn app_with(pool: PgPool, limits: &[(&str, u32)]) -> (TestApp, ManualClock) {
    let clock = ManualClock::at(chrono::Utc::now());
    let limits: Vec<(String, String)> = limits
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let tweak = move |vars: &mut HashMap<String, String>| {
        for name in RATE_LIMIT_VARS {
            vars.remove(name);
        }
        vars.extend(limits);
    };
    let app = TestApp::spawn_full(pool, tweak, Arc::new(clock.clone())).await;
    (app, clock)
}

fn header(r: &Reply, name: &str) -> String {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header; body {}", r.body))
        .to_str()
        .unwrap()
        .to_string()
}

/// `(limit, remaining, reset)` from the `X-RateLimit-*` headers.
fn budget(r: &Reply) -> (String, String, String) {
    (
        header(r, "x-ratelimit-limit"),
        header(r, "x-ratelimit-remaining"),
        header(r, "x-ratelimit-reset"),
    )
}

fn budget_of(limit: u32, remaining: u32, reset: u64) -> (String, String, String) {
    (limit.to_string(), remaining.to_string(), reset.to_string())
}

async fn messages_in(pool: &PgPool, conversation: &str) -> i64 {
    let id: uuid::Uuid = conversation.parse().unwrap();
    sqlx::query_scalar("SELECT count(*) FROM messages WHERE conversation_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn send_body(conversation: &str, content: &str) -> Value {
    json!({"conversation_id": conversation, "type": "text", "content": content, "client_msg_id": content})
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_api_limit_is_100_a_minute_then_429_with_headers_and_nothing_stored(pool: PgPool) {
    let (app, clock) = app_with_defaults(pool).await;
    // bob opens the DM, so none of alice's budget goes to it
    let dm = app.conversation("bob", "direct", &["alice"]).await;

    let first = app.get("/api/v1/auth/me", "alice").await;
    first.expect(200);
    assert_eq!(budget(&first), budget_of(100, 99, 1), "0.6 s per request");
    for i in 2..=100 {
        let r = app.get("/api/v1/auth/me", "alice").await;
        r.expect(200);
        assert_eq!(header(&r, "x-ratelimit-remaining"), (100 - i).to_string());
    }

    // the 101st within the minute: refused before the route runs
    let r = app
        .post("/api/v1/messages", "alice", send_body(&dm, "too-many"))
        .await;
    r.expect_error(429, "RATE_LIMITED");
    assert_eq!(budget(&r), budget_of(100, 0, 60));
    assert_eq!(header(&r, "retry-after"), "1", "0.6 s, rounded up");
    assert_eq!(
        r.body["error"]["details"],
        json!({"kind": "api", "limit": 100, "period_secs": 60, "retry_after_ms": 600})
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("retry after 600 ms"), "{message}");
    assert_eq!(messages_in(&app.pool, &dm).await, 0, "nothing stored");

    // another user has a budget of their own
    let r = app
        .post("/api/v1/messages", "bob", send_body(&dm, "bob-1"))
        .await;
    r.expect(201);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "98");

    // one emission interval later, exactly one more request fits
    clock.advance(chrono::Duration::milliseconds(599));
    app.get("/api/v1/auth/me", "alice")
        .await
        .expect_error(429, "RATE_LIMITED");
    clock.advance(chrono::Duration::milliseconds(1));
    let r = app
        .post("/api/v1/messages", "alice", send_body(&dm, "alice-1"))
        .await;
    r.expect(201);
    assert_eq!(budget(&r), budget_of(100, 0, 60));
    app.get("/api/v1/auth/me", "alice")
        .await
        .expect_error(429, "RATE_LIMITED");
    assert_eq!(messages_in(&app.pool, &dm).await, 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_edge_identity_and_a_direct_jwt_spend_one_budget(pool: PgPool) {
    let (app, _clock) = app_with(pool, &[("RATE_LIMIT_API_PER_MINUTE", 4)]).await;
    let via_edge = || app.internal(Method::GET, "/api/v1/auth/me", "carol", &Value::Null);
    let direct = || app.get("/api/v1/auth/me", "carol");

    let mut remaining = Vec::new();
    for r in [
        direct().await,
        via_edge().await,
        direct().await,
        via_edge().await,
    ] {
        r.expect(200);
        assert_eq!(r.data()["tms_user_id"], "carol");
        remaining.push(header(&r, "x-ratelimit-remaining"));
    }
    assert_eq!(remaining, ["3", "2", "1", "0"]);
    let r = via_edge().await;
    r.expect_error(429, "RATE_LIMITED");
    assert_eq!(budget(&r), budget_of(4, 0, 60));
    assert_eq!(header(&r, "retry-after"), "15");
    direct().await.expect_error(429, "RATE_LIMITED");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn socket_sends_past_10_a_second_are_refused_at_core_and_not_stored(pool: PgPool) {
    let (app, clock) = app_with_defaults(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;

    // 25 sends at once from the user's sockets (the edge relays each socket's
    // sends in order, but two sockets run in parallel): exactly 10 fit
    let app = &app;
    let sends = (0..25).map(|i| {
        let body = send_body(&dm, &format!("burst-{i}"));
        async move {
            app.internal(Method::POST, "/internal/v1/messages", "alice", &body)
                .await
        }
    });
    let replies = join_all(sends).await;
    let stored: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!((stored.len(), refused.len()), (10, 15));
    for r in &refused {
        r.expect_error(429, "RATE_LIMITED");
        assert_eq!(r.body["error"]["details"]["kind"], "socket_send");
        let wait = r.body["error"]["details"]["retry_after_ms"]
            .as_u64()
            .unwrap();
        assert_eq!(wait, 100, "the clock stands still: one interval");
        assert_eq!(header(r, "retry-after"), "1");
        assert_eq!(header(r, "x-ratelimit-limit"), "10");
    }
    assert_eq!(
        messages_in(&app.pool, &dm).await,
        10,
        "only acked sends stored"
    );

    // REST sends spend the API budget, not the socket one
    app.post("/api/v1/messages", "alice", send_body(&dm, "rest"))
        .await
        .expect(201);

    clock.advance(chrono::Duration::milliseconds(100));
    let body = send_body(&dm, "after-100ms");
    app.internal(Method::POST, "/internal/v1/messages", "alice", &body)
        .await
        .expect(201);
    let body = send_body(&dm, "one-too-many");
    app.internal(Method::POST, "/internal/v1/messages", "alice", &body)
        .await
        .expect_error(429, "RATE_LIMITED");
    assert_eq!(messages_in(&app.pool, &dm).await, 12);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn upload_urls_have_their_own_limit_through_the_service_api(pool: PgPool) {
    let (app, clock) = app_with_defaults(pool).await;
    let limits = &app.state.limits;
    for left in (0..5).rev() {
        let status = limits
            .enforce("dave", LimitKind::UploadUrl)
            .await
            .unwrap()
            .expect("Redis is up: checked");
        assert_eq!(status.remaining, left);
    }
    let refused = limits
        .enforce("dave", LimitKind::UploadUrl)
        .await
        .unwrap_err();
    let AppError::RateLimited(status) = &refused else {
        panic!("not a rate-limit error: {refused:?}");
    };
    assert_eq!(status.retry_after, Duration::from_secs(12), "5 a minute");
    let response = refused.into_response();
    assert_eq!(response.status(), 429);
    let h = response.headers();
    assert_eq!(h["retry-after"], "12");
    assert_eq!(h["x-ratelimit-limit"], "5");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-reset"], "60");

    // the API budget is untouched
    let r = app.get("/api/v1/auth/me", "dave").await;
    r.expect(200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "99");
    clock.advance(chrono::Duration::seconds(12));
    assert!(matches!(
        limits.check("dave", LimitKind::UploadUrl).await,
        Checked::Allowed(_)
    ));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_redis_script_decides_as_the_pure_gcra(pool: PgPool) {
    let (app, clock) = app_with(pool, &[("RATE_LIMIT_SOCKET_SENDS_PER_SECOND", 3)]).await;
    let quota = Quota::per_second(3);
    assert_eq!(app.state.limits.quota(LimitKind::SocketSend), quota);
    let mut tat = None;
    // bursts, partial refills, idle gaps longer than the key's TTL
    let steps_ms = [
        0, 0, 0, 0, 10, 333, 1, 0, 0, 700, 2000, 0, 0, 0, 0, 150, 183,
    ];
    for (i, step) in steps_ms.into_iter().enumerate() {
        clock.advance(chrono::Duration::milliseconds(step));
        let now_us = clock.now().timestamp_micros();
        let (expected, next) = gcra::check(quota, tat, now_us);
        if next.is_some() {
            tat = next;
        }
        let got = app.state.limits.check("erin", LimitKind::SocketSend).await;
        let (allowed, status) = match got {
            Checked::Allowed(s) => (true, s),
            Checked::Limited(s) => (false, s),
            Checked::Unenforced => panic!("Redis is up"),
        };
        assert_eq!(allowed, expected.allowed, "step {i}");
        assert_eq!(status.remaining, expected.remaining, "step {i}");
        let us = |d: Duration| d.as_micros() as i64;
        assert_eq!(us(status.retry_after), expected.retry_after_us, "step {i}");
        assert_eq!(us(status.reset_after), expected.reset_after_us, "step {i}");
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_gateways_batch_spends_each_senders_socket_budget(pool: PgPool) {
    let (app, _clock) = app_with_defaults(pool).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    // 15 of alice's sends and 2 of bob's in one batch: alice's first 10 fit
    let mut sends: Vec<Value> = (0..15)
        .map(|i| json!({"user_id": "alice", "message": send_body(&group, &format!("a-{i}"))}))
        .collect();
    sends.insert(
        3,
        json!({"user_id": "bob", "message": send_body(&group, "b-0")}),
    );
    sends.push(json!({"user_id": "bob", "message": send_body(&group, "b-1")}));
    let r = app
        .internal(
            Method::POST,
            "/internal/v1/messages/batch",
            "",
            &json!({ "sends": sends }),
        )
        .await;
    r.expect(200);
    let results = r.data()["results"].as_array().unwrap();
    let outcome: Vec<bool> = results.iter().map(|x| x["success"] == true).collect();
    let mut expected = vec![true; 10];
    expected.extend([false; 5]);
    expected.insert(3, true);
    expected.push(true);
    assert_eq!(outcome, expected);
    for refused in results.iter().filter(|x| x["success"] == false) {
        assert_eq!(refused["error"]["code"], "RATE_LIMITED");
        assert_eq!(refused["error"]["details"]["kind"], "socket_send");
        assert_eq!(refused["error"]["details"]["retry_after_ms"], 100);
    }
    assert_eq!(messages_in(&app.pool, &group).await, 12);
}
