//! The rate limits' Redis-down policy: fail open. While Redis is down or hung
//! requests and socket sends run unlimited (no `X-RateLimit-*` headers),
//! counted in `rate_limit_unenforced_total`; once Redis answers again the
//! limits hold again, without a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::procs::RedisServer;
use super::{ready, recovery, signed, timed, Timings};
use crate::common::{Reply, TestApp, RATE_LIMIT_VARS};

async fn app_on(pool: PgPool, redis: &RedisServer) -> TestApp {
    let url = redis.url();
    TestApp::spawn_with(pool, |vars| {
        for name in RATE_LIMIT_VARS {
            vars.remove(name);
        }
        vars.insert("RATE_LIMIT_API_PER_MINUTE".into(), "3".into());
        vars.insert("RATE_LIMIT_SOCKET_SENDS_PER_SECOND".into(), "2".into());
        vars.insert("REDIS_URL".into(), url);
        vars.insert("REDIS_RESPONSE_TIMEOUT_MS".into(), "1000".into());
    })
    .await
}

async fn socket_send(app: &TestApp, group: &str, n: usize) -> Reply {
    let body = json!({"conversation_id": group, "type": "text", "content": format!("s{n}")});
    signed(
        &app.base,
        &app.http,
        Method::POST,
        "/internal/v1/messages",
        "bob",
        Some(&body),
    )
    .await
}

async fn unenforced(app: &TestApp, kind: &str) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("rate_limit_unenforced_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn limits_fail_open_while_redis_is_down_and_hold_again_after(pool: PgPool) {
    let mut redis = RedisServer::start().await;
    let app = app_on(pool, &redis).await;
    // alice's three requests: the group, then two reads
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    for _ in 0..2 {
        app.get("/api/v1/auth/me", "alice").await.expect(200);
    }
    app.get("/api/v1/auth/me", "alice")
        .await
        .expect_error(429, "RATE_LIMITED");
    socket_send(&app, &group, 0).await.expect(201);
    socket_send(&app, &group, 1).await.expect(201);
    socket_send(&app, &group, 2)
        .await
        .expect_error(429, "RATE_LIMITED");

    redis.kill();
    let mut api = Timings::default();
    let mut sends = Timings::default();
    for i in 0..10 {
        let (r, d) = timed(app.get("/api/v1/auth/me", "alice")).await;
        r.expect(200);
        assert!(r.headers.get("x-ratelimit-limit").is_none(), "not checked");
        api.add(d);
        let (r, d) = timed(socket_send(&app, &group, 10 + i)).await;
        r.expect(201);
        sends.add(d);
    }
    api.report(
        "redis-killed",
        "GET /api/v1/auth/me over the limit",
        "200, unlimited",
    );
    sends.report(
        "redis-killed",
        "POST /internal/v1/messages over the limit",
        "201, unlimited",
    );
    assert_eq!(unenforced(&app, "api").await, 10.0);
    assert_eq!(unenforced(&app, "socket_send").await, 10.0);

    // back: an empty Redis, so a fresh budget of 3 (the scrapes above spent none)
    redis.restart().await;
    recovery(Duration::from_secs(5), || async {
        ready(&app).await.status == 200
    })
    .await;
    for left in ["2", "1", "0"] {
        let r = app.get("/api/v1/auth/me", "alice").await;
        r.expect(200);
        assert_eq!(r.headers["x-ratelimit-remaining"], left);
    }
    app.get("/api/v1/auth/me", "alice")
        .await
        .expect_error(429, "RATE_LIMITED");

    // hung: the first check waits one response timeout at most, then fails open
    redis.freeze();
    let (r, first) = timed(app.get("/api/v1/auth/me", "alice")).await;
    r.expect(200);
    println!("FAULT redis-hung       first over-limit request after SIGSTOP: 200 unlimited in {first:.1?}");
    assert!(first < Duration::from_millis(1500), "{first:?}");
    redis.thaw();
}
