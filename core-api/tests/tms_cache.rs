//! Profiles come from TMS through the Redis cache, stale when TMS is down.

mod common;

use common::TestApp;
use serde_json::json;
use sqlx::PgPool;
use tms_standin::Route;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn profiles_are_cached_for_600s(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.get("/api/v1/users/carol", "alice").await;
    first.expect(200);
    assert_eq!(first.data()["id"], "carol");
    let calls = app.tms.controls.requests(Route::User);
    app.get("/api/v1/users/carol", "alice").await.expect(200);
    assert_eq!(
        app.tms.controls.requests(Route::User),
        calls,
        "second read is served from Redis"
    );

    let key = app
        .state
        .cache
        .key(&core_api::cache::keys::profile("carol"));
    let mut conn = app.state.cache.connection();
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");

    app.get("/api/v1/users/nobody", "alice")
        .await
        .expect_error(404, "NOT_FOUND");
    // ids may contain ':'; no id reads another user's stale copy
    app.get("/api/v1/users/carol:stale", "alice")
        .await
        .expect_error(404, "NOT_FOUND");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn stale_cache_when_tms_is_down_else_503(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.get("/api/v1/users/dave", "alice").await.expect(200);
    // the fresh copy expires; TMS goes down
    app.state
        .cache
        .delete(&[core_api::cache::keys::profile("dave")])
        .await
        .unwrap();
    app.tms.controls.set_down(true);
    let stale = app.get("/api/v1/users/dave", "alice").await;
    stale.expect(200);
    assert_eq!(stale.data()["id"], "dave");
    app.get("/api/v1/users/erin", "alice")
        .await
        .expect_error(503, "TMS_UNAVAILABLE");
    // creating a conversation with an unverifiable member is refused, not guessed
    app.post(
        "/api/v1/conversations",
        "alice",
        json!({"type": "direct", "member_ids": ["erin"]}),
    )
    .await
    .expect_error(503, "TMS_UNAVAILABLE");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn participants_are_fetched_in_one_batch(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let members: Vec<String> = (1..=40).map(|i| format!("load-{i:03}")).collect();
    let ids: Vec<&str> = members.iter().map(String::as_str).collect();
    app.tms.controls.reset_counters();
    let g = app.conversation("alice", "group", &ids).await;
    let single = app.tms.controls.requests(Route::User);
    let batch = app.tms.controls.requests(Route::UsersBatch);
    assert_eq!(single, 0, "no per-user lookups (N+1)");
    assert!(batch <= 2, "batch calls: {batch}");
    let r = app
        .get(&format!("/api/v1/conversations/{g}"), "alice")
        .await;
    r.expect(200);
    assert_eq!(r.data()["members"].as_array().unwrap().len(), 41);
    assert!(r.data()["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["user_id"] != "alice")
        .all(|m| m["profile"]["display_name"].is_string()));
    assert_eq!(
        app.tms.controls.requests(Route::UsersBatch),
        batch,
        "every participant came from the cache"
    );
    assert_eq!(app.tms.controls.requests(Route::User), 0);

    let batch_api = app
        .post(
            "/api/v1/users/batch",
            "alice",
            json!({"ids": ["bob", "ghost", "carol"]}),
        )
        .await;
    batch_api.expect(200);
    let got: Vec<&str> = batch_api
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["bob", "carol"]);
}
