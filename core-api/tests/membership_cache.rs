//! The Redis membership set `{conv:<id>}:members` against real Redis
//! and Postgres: filled from the database, dropped on every change, and never
//! refilled with a member list read before a change committed.

mod common;

use common::TestApp;
use core_api::services::membership;
use reqwest::Method;
use sqlx::PgPool;
use uuid::Uuid;

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn version(app: &TestApp, id: Uuid) -> Option<String> {
    app.state
        .cache
        .get(&core_api::cache::keys::members_version(id))
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_member_list_read_before_a_removal_is_not_cached(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id: Uuid = app
        .conversation("alice", "group", &["bob", "carol"])
        .await
        .parse()
        .unwrap();
    // a fill has read the version (none yet) and the members, bob among them ...
    let seen = version(&app, id).await;
    let read_before = strings(&["alice", "bob", "carol"]);
    // ... when the owner removes bob and the change invalidates the cache
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{id}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    assert_ne!(
        version(&app, id).await,
        seen,
        "the change bumps the version"
    );
    // the late fill must not put bob back
    let stored = membership::store_if_unchanged(&app.state, id, seen.as_deref(), &read_before)
        .await
        .unwrap();
    assert!(!stored);
    assert!(!membership::is_member(&app.state, id, "bob").await.unwrap());
    assert!(membership::is_member(&app.state, id, "carol")
        .await
        .unwrap());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_cache_answers_until_the_next_change(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id: Uuid = app
        .conversation("alice", "group", &["bob"])
        .await
        .parse()
        .unwrap();
    assert!(!membership::is_member(&app.state, id, "carol")
        .await
        .unwrap());
    // the set is cached now: a row added behind core's back is not seen ...
    sqlx::query("INSERT INTO users (tms_user_id) VALUES ('carol') ON CONFLICT DO NOTHING;")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO conversation_members (conversation_id, user_id, role)
         SELECT $1, id, 'member' FROM users WHERE tms_user_id = 'carol'",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(!membership::is_member(&app.state, id, "carol")
        .await
        .unwrap());
    // ... until a change through core drops the set
    membership::invalidate(&app.state, id).await;
    assert!(membership::is_member(&app.state, id, "carol")
        .await
        .unwrap());
    // a fill with the current version is stored (here: a list without bob)
    let current = version(&app, id).await;
    app.state
        .cache
        .delete(&[core_api::cache::keys::members(id)])
        .await
        .unwrap();
    assert!(membership::store_if_unchanged(
        &app.state,
        id,
        current.as_deref(),
        &strings(&["alice"])
    )
    .await
    .unwrap());
    assert!(!membership::is_member(&app.state, id, "bob").await.unwrap());
}
