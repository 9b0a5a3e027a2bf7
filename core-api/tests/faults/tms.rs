//! TMS hung: cached profiles are served at once, an uncached one is a 503
//! TMS_UNAVAILABLE within the TMS timeout, `/auth/me` still answers. With
//! Redis down too nothing can answer for a profile: 503 CACHE_UNAVAILABLE.

use std::time::Duration;

use reqwest::Method;
use sqlx::PgPool;

use super::procs::RedisServer;
use super::{recovery, timed, Timings};
use crate::common::TestApp;

const TMS_TIMEOUT_MS: u64 = 500;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn tms_hung(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |vars| {
        vars.insert("TMS_TIMEOUT_MS".into(), TMS_TIMEOUT_MS.to_string());
    })
    .await;
    app.get("/api/v1/users/bob", "alice").await.expect(200);

    app.tms.controls.set_delay(Duration::from_secs(30));
    let (mut cached, mut uncached, mut me) =
        (Timings::default(), Timings::default(), Timings::default());
    for _ in 0..10 {
        let (r, d) = timed(app.get("/api/v1/users/bob", "alice")).await;
        r.expect(200);
        cached.add(d);
        let (r, d) = timed(app.get("/api/v1/users/carol", "alice")).await;
        r.expect_error(503, "TMS_UNAVAILABLE");
        uncached.add(d);
        let (r, d) = timed(app.get("/api/v1/auth/me", "dave")).await;
        r.expect(200);
        assert!(r.data()["profile"].is_null(), "{}", r.body);
        me.add(d);
    }
    let bound = Duration::from_millis(TMS_TIMEOUT_MS + 500);
    assert!(
        cached.report(
            "tms-hung",
            "GET /api/v1/users/{id} (cached)",
            "200 from Redis"
        ) < Duration::from_millis(200)
    );
    assert!(
        uncached.report(
            "tms-hung",
            "GET /api/v1/users/{id} (uncached)",
            "503 TMS_UNAVAILABLE"
        ) < bound
    );
    assert!(
        me.report(
            "tms-hung",
            "GET /api/v1/auth/me (uncached)",
            "200, profile null"
        ) < bound
    );

    app.tms.controls.set_delay(Duration::ZERO);
    let back = recovery(Duration::from_secs(3), || async {
        app.get("/api/v1/users/carol", "alice").await.status == 200
    })
    .await;
    println!("FAULT tms-hung         recovery after TMS answered again: {back:.1?}");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn tms_down_and_redis_down(pool: PgPool) {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(pool, |vars| {
        vars.insert("REDIS_URL".into(), url);
        vars.insert("TMS_TIMEOUT_MS".into(), TMS_TIMEOUT_MS.to_string());
    })
    .await;
    app.get("/api/v1/users/bob", "alice").await.expect(200);
    redis.kill();
    app.tms.controls.set_down(true);

    let mut t = Timings::default();
    for _ in 0..10 {
        let (r, d) = timed(app.get("/api/v1/users/bob", "alice")).await;
        r.expect_error(503, "CACHE_UNAVAILABLE");
        assert_eq!(r.headers["retry-after"], "1");
        t.add(d);
    }
    let p99 = t.report(
        "tms+redis-down",
        "GET /api/v1/users/{id}",
        "503 CACHE_UNAVAILABLE",
    );
    assert!(p99 < Duration::from_millis(TMS_TIMEOUT_MS + 500));
    // who the caller is does not need the directory
    let r = app
        .call(Method::GET, "/api/v1/auth/me", "alice", None)
        .await;
    r.expect(200);
    assert!(r.data()["profile"].is_null());
}
