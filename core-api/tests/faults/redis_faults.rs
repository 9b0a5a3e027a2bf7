//! Redis killed and restarted, and Redis hung: profiles come from TMS,
//! membership from Postgres, internal calls keep working with this replica's
//! replay record, `/health/ready` names Redis at once, and everything returns
//! to the cache within seconds of Redis answering again, without a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::procs::{free_port, RedisServer};
use super::{ready, recovery, signed, signed_with_nonce, timed, Timings};
use crate::common::TestApp;

/// Every answer during a Redis fault: the response timeout (1 s) plus slack.
pub const BOUND: Duration = Duration::from_millis(1500);
const ROUNDS: usize = 20;

async fn app_on(pool: PgPool, redis: &RedisServer) -> TestApp {
    let url = redis.url();
    TestApp::spawn_with(pool, |vars| {
        vars.insert("REDIS_URL".into(), url);
        vars.insert("REDIS_RESPONSE_TIMEOUT_MS".into(), "1000".into());
        vars.insert("REDIS_CONNECT_TIMEOUT_MS".into(), "250".into());
    })
    .await
}

/// The routes that touch Redis, each measured `ROUNDS` times; all must answer
/// correctly within `BOUND`.
pub async fn exercise(app: &TestApp, fault: &str, group: &str) {
    let membership = format!("/internal/v1/conversations/{group}/membership");
    let mut me = Timings::default();
    let mut user = Timings::default();
    let mut create = Timings::default();
    let mut member = Timings::default();
    let mut send = Timings::default();
    let mut health = Timings::default();
    for i in 0..ROUNDS {
        let (r, d) = timed(app.get("/api/v1/auth/me", "alice")).await;
        r.expect(200);
        assert_eq!(r.data()["profile"]["id"], "alice", "profile from TMS");
        me.add(d);

        let (r, d) = timed(app.get("/api/v1/users/carol", "alice")).await;
        r.expect(200);
        user.add(d);

        let body = json!({"type": "group", "title": "T", "member_ids": ["bob", "carol"]});
        let (r, d) = timed(app.post("/api/v1/conversations", "alice", body)).await;
        r.expect(201);
        create.add(d);

        let (r, d) = timed(signed(
            &app.base,
            &app.http,
            Method::GET,
            &membership,
            "bob",
            None,
        ))
        .await;
        r.expect(200);
        assert_eq!(r.data()["is_member"], true, "membership from Postgres");
        member.add(d);

        let body = json!({"conversation_id": group, "type": "text", "content": "m", "client_msg_id": format!("{fault}-{i}")});
        let (r, d) = timed(signed(
            &app.base,
            &app.http,
            Method::POST,
            "/internal/v1/messages",
            "bob",
            Some(&body),
        ))
        .await;
        r.expect(201);
        send.add(d);

        let (r, d) = timed(ready(app)).await;
        r.expect_error(503, "SERVICE_UNAVAILABLE");
        assert_eq!(r.body["error"]["details"]["redis"], "down", "{}", r.body);
        assert_eq!(r.body["error"]["details"]["postgres"], "ok", "{}", r.body);
        health.add(d);
    }
    for (t, what, answer) in [
        (&me, "GET /api/v1/auth/me", "200, profile from TMS"),
        (&user, "GET /api/v1/users/{id}", "200 from TMS"),
        (&create, "POST /api/v1/conversations (group)", "201"),
        (
            &member,
            "GET /internal/v1/.../membership",
            "200, from Postgres",
        ),
        (
            &send,
            "POST /internal/v1/messages",
            "201, local replay record",
        ),
        (&health, "GET /health/ready", "503, redis down"),
    ] {
        let p99 = t.report(fault, what, answer);
        assert!(p99 < BOUND, "{what} p99 {p99:?} under {fault}");
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_killed_and_restarted(pool: PgPool) {
    let mut redis = RedisServer::start().await;
    let app = app_on(pool, &redis).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.get("/api/v1/auth/me", "alice").await.expect(200);
    ready(&app).await.expect(200);

    redis.kill();
    exercise(&app, "redis-killed", &group).await;

    // replays are still refused while Redis is down: this replica remembers
    let path = format!("/internal/v1/conversations/{group}/membership");
    let nonce = "replayed-during-outage";
    signed_with_nonce(&app.base, &app.http, Method::GET, &path, "bob", None, nonce)
        .await
        .expect(200);
    signed_with_nonce(&app.base, &app.http, Method::GET, &path, "bob", None, nonce)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    redis.restart().await;
    let back = recovery(Duration::from_secs(5), || async {
        ready(&app).await.status == 200
    })
    .await;
    println!("FAULT redis-killed     recovery after Redis restarted: ready again in {back:.1?}");
    // the cache is in use again: a profile read lands in the new Redis
    app.get("/api/v1/users/dave", "alice").await.expect(200);
    let mut direct = redis.client().await;
    let cached: Option<String> = redis::cmd("GET")
        .arg(app.state.cache.key(&core_api::cache::keys::profile("dave")))
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(cached.is_some(), "profile cached in the restarted Redis");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_hung(pool: PgPool) {
    let redis = RedisServer::start().await;
    let app = app_on(pool, &redis).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let membership = format!("/internal/v1/conversations/{group}/membership");
    let is_member = |user: &'static str| {
        let (base, http, path) = (app.base.clone(), app.http.clone(), membership.clone());
        async move {
            let r = signed(&base, &http, Method::GET, &path, user, None).await;
            r.expect(200);
            r.data()["is_member"].as_bool().unwrap()
        }
    };
    // carol's membership is now cached in Redis
    assert!(is_member("carol").await);

    // readiness names Redis at once, without waiting for a request to fail first
    redis.freeze();
    let (r, first_ready) = timed(ready(&app)).await;
    r.expect_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(r.body["error"]["details"]["redis"], "down");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("redis"));
    println!("FAULT redis-hung       first GET /health/ready after SIGSTOP: 503 redis down in {first_ready:.1?}");
    assert!(first_ready < Duration::from_millis(800), "{first_ready:?}");
    redis.thaw();
    recovery(Duration::from_secs(5), || async {
        ready(&app).await.status == 200
    })
    .await;

    // the first request that meets a hung Redis waits one response timeout at most
    redis.freeze();
    let (r, first) = timed(app.get("/api/v1/users/erin", "alice")).await;
    r.expect(200);
    println!("FAULT redis-hung       first request after SIGSTOP (GET /users/{{id}}): 200 in {first:.1?}");
    assert!(first < BOUND, "{first:?}");
    exercise(&app, "redis-hung", &group).await;

    // a membership change while Redis hangs: its invalidation waits for Redis
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/carol"),
        "alice",
        None,
    )
    .await
    .expect(200);
    assert!(!is_member("carol").await, "Postgres says carol left");

    redis.thaw();
    let back = recovery(Duration::from_secs(5), || async {
        ready(&app).await.status == 200
    })
    .await;
    println!("FAULT redis-hung       recovery after SIGCONT: ready again in {back:.1?}");
    assert!(app.state.cache.is_up());
    // the cached set from before the hang was invalidated on recovery
    assert!(
        !is_member("carol").await,
        "stale membership served after recovery"
    );
    let mut direct = redis.client().await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(
            app.state
                .cache
                .key(&core_api::cache::keys::members(group.parse().unwrap())),
        )
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(exists, "membership cached again after recovery");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_down_at_start(pool: PgPool) {
    // nothing listens there yet
    let port = free_port();
    let (app, took) = timed(TestApp::spawn_with(pool, |vars| {
        vars.insert("REDIS_URL".into(), format!("redis://127.0.0.1:{port}"));
    }))
    .await;
    println!("FAULT redis-at-start   core started without Redis in {took:.1?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(!app.state.cache.is_up());
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    exercise(&app, "redis-at-start", &group).await;

    let redis = RedisServer::start_on(port).await;
    let back = recovery(Duration::from_secs(5), || async {
        ready(&app).await.status == 200
    })
    .await;
    println!("FAULT redis-at-start   Redis started: ready in {back:.1?}");
    app.get("/api/v1/users/dave", "alice").await.expect(200);
    let mut direct = redis.client().await;
    let cached: Option<String> = redis::cmd("GET")
        .arg(app.state.cache.key(&core_api::cache::keys::profile("dave")))
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(cached.is_some(), "profile cached once Redis is there");
}
