//! Core on a real Redis Cluster (three masters, `scripts/redis-cluster.sh`):
//! rate limits, presence, the membership cache and profiles work as on one
//! server, with the keys of many users spread over the masters. A script or
//! pipeline whose keys crossed slots would fail here (`CROSSSLOT`, or the
//! client's "crossed slots"): the first test shows the cluster refuses them.
//!
//! `TEST_REDIS_CLUSTER_URL` names the cluster (`make test` starts it and sets
//! it); without it the test runs `scripts/redis-cluster.sh` itself.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::{TestApp, RATE_LIMIT_VARS};
use core_api::cache::keys;
use core_api::clock::ManualClock;
use core_api::services::{membership, presence, users};
use redis::ErrorKind;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn cluster_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("TEST_REDIS_CLUSTER_URL") {
            return url;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/redis-cluster.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("bash scripts/redis-cluster.sh");
        assert!(
            out.status.success(),
            "scripts/redis-cluster.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

fn on_cluster(vars: &mut HashMap<String, String>) {
    vars.insert("REDIS_URL".into(), cluster_url());
}

async fn app(pool: PgPool) -> TestApp {
    let app = TestApp::spawn_with(pool, on_cluster).await;
    assert!(app.state.cache.is_cluster());
    app
}

/// Ids whose keys land on many slots, odd ones included (`}` ends a tag early).
fn many_users(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("user-{i}")).collect();
    ids.extend(["a}b", "{x}", "c:d"].map(String::from));
    ids
}

async fn slot(app: &TestApp, key: &str) -> i64 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(app.state.cache.key(key))
        .query_async(&mut app.state.cache.connection())
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_cluster_has_three_masters_and_refuses_keys_across_slots(pool: PgPool) {
    let app = app(pool).await;
    let mut conn = app.state.cache.connection();
    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_size:3"), "{info}");

    let (alice, bob) = (
        app.state.cache.key(&keys::presence("alice")),
        app.state.cache.key(&keys::presence("bob")),
    );
    assert_ne!(
        slot(&app, &keys::presence("alice")).await,
        slot(&app, &keys::presence("bob")).await
    );
    // one script over two users' keys: the server refuses it
    let script = redis::Script::new("return redis.call('EXISTS', KEYS[1], KEYS[2])");
    let err = script
        .key(&alice)
        .key(&bob)
        .invoke_async::<i64>(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrossSlot, "{err}");
    // one pipeline over two users' keys: the client refuses it
    let err = redis::pipe()
        .hgetall(&alice)
        .hgetall(&bob)
        .query_async::<redis::Value>(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CrossSlot, "{err}");
    // one user's keys, and one conversation's, share a slot
    let user_slots: HashSet<i64> = futures_util::future::join_all(
        [
            keys::presence("a}b"),
            keys::pending_offline("a}b"),
            keys::last_seen("a}b"),
            keys::profile("a}b"),
            keys::stale_profile("a}b"),
            keys::rate_limit("a}b", "api"),
        ]
        .iter()
        .map(|k| slot(&app, k)),
    )
    .await
    .into_iter()
    .collect();
    assert_eq!(user_slots.len(), 1);
    let c = Uuid::new_v4();
    assert_eq!(
        slot(&app, &keys::members(c)).await,
        slot(&app, &keys::members_version(c)).await
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn rate_limits_hold_on_the_cluster(pool: PgPool) {
    let clock = ManualClock::at(chrono::Utc::now());
    let app = TestApp::spawn_full(
        pool,
        |vars| {
            on_cluster(vars);
            for name in RATE_LIMIT_VARS {
                vars.remove(name);
            }
            vars.insert("RATE_LIMIT_API_PER_MINUTE".into(), "3".into());
        },
        Arc::new(clock.clone()),
    )
    .await;
    for _ in 0..3 {
        app.get("/api/v1/auth/me", "carol").await.expect(200);
    }
    app.get("/api/v1/auth/me", "carol")
        .await
        .expect_error(429, "RATE_LIMITED");
    // another user's budget is another key, on whichever master holds it
    app.get("/api/v1/auth/me", "dave").await.expect(200);
    clock.advance(chrono::Duration::seconds(20));
    app.get("/api/v1/auth/me", "carol").await.expect(200);
    let state_key = keys::rate_limit("carol", "api");
    let tat: Option<String> = app.state.cache.get(&state_key).await.unwrap();
    assert!(tat.is_some(), "the GCRA state lives on the cluster");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn presence_of_many_users_spread_over_the_masters(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |vars| {
        on_cluster(vars);
        vars.insert("PRESENCE_GRACE_MS".into(), "100".into());
    })
    .await;
    let ids = many_users(40);
    let presence_keys: Vec<String> = ids.iter().map(|u| keys::presence(u)).collect();
    let slots: HashSet<i64> =
        futures_util::future::join_all(presence_keys.iter().map(|k| slot(&app, k)))
            .await
            .into_iter()
            .collect();
    assert!(slots.len() > 30, "the users' keys spread over slots");

    let arrived: Vec<&str> = ids.iter().map(String::as_str).collect();
    let r = app.report("G.0", &arrived, &[]).await;
    assert_eq!(r["came_online"], ids.len(), "{r}");
    let now = chrono::Utc::now().timestamp_millis();
    let gateways = presence::gateways_of(&app.state.cache, &ids, now)
        .await
        .unwrap();
    assert_eq!(gateways.len(), ids.len());
    assert!(gateways.values().all(|g| g == &["G.0".to_string()]));
    let seen = presence::get(&app.state, &ids).await.unwrap();
    assert!(seen.iter().all(|p| p.online), "{seen:?}");
    let r = app
        .get("/api/v1/presence?user_ids=user-0,user-1,nobody", "dave")
        .await;
    r.expect(200);
    let online: Vec<bool> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["online"].as_bool().unwrap())
        .collect();
    assert_eq!(online, [true, true, false]);

    // all leave: after the grace each is offline with a last-seen time (CONFIRM_OFFLINE per user)
    let r = app.report("G.0", &[], &arrived).await;
    assert_eq!(r["went_offline"], ids.len(), "{r}");
    let started = Instant::now();
    loop {
        let seen = presence::get(&app.state, &ids).await.unwrap();
        let stored = seen
            .iter()
            .filter(|p| !p.online && p.last_seen_at.is_some())
            .count();
        let last_seen_keys: Vec<Option<String>> = app
            .state
            .cache
            .mget(&ids.iter().map(|u| keys::last_seen(u)).collect::<Vec<_>>())
            .await
            .unwrap();
        if stored == ids.len() && last_seen_keys.iter().all(Option::is_some) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{stored} of {} offline with last_seen",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_membership_cache_on_the_cluster(pool: PgPool) {
    let app = app(pool).await;
    let id: Uuid = app
        .conversation("alice", "group", &["bob", "carol"])
        .await
        .parse()
        .unwrap();
    // a miss fills the set (STORE_IF_UNCHANGED over the set and its version)
    assert!(membership::is_member(&app.state, id, "bob").await.unwrap());
    let mut conn = app.state.cache.connection();
    let cached: Vec<String> = redis::cmd("SMEMBERS")
        .arg(app.state.cache.key(&keys::members(id)))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(cached.contains(&"bob".to_string()), "{cached:?}");
    let seen = app
        .state
        .cache
        .get(&keys::members_version(id))
        .await
        .unwrap();

    // a removal invalidates (INCR + EXPIRE + DEL in MULTI/EXEC, one slot)
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{id}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let after = app
        .state
        .cache
        .get(&keys::members_version(id))
        .await
        .unwrap();
    assert_ne!(after, seen, "the change bumps the version");
    let old = ["alice", "bob", "carol"].map(String::from);
    let stored = membership::store_if_unchanged(&app.state, id, seen.as_deref(), &old)
        .await
        .unwrap();
    assert!(!stored, "a list read before the change is not cached");
    assert!(!membership::is_member(&app.state, id, "bob").await.unwrap());
    let members = membership::members(&app.state.cache, &app.pool, id)
        .await
        .unwrap();
    let members: HashSet<String> = members.into_iter().collect();
    assert_eq!(members, HashSet::from(["alice".into(), "carol".into()]));
    // the internal membership route answers from the cluster too
    let r = app
        .internal(
            Method::GET,
            &format!("/internal/v1/conversations/{id}/membership"),
            "carol",
            &json!(null),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["is_member"], true);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn profiles_and_their_invalidation_on_the_cluster(pool: PgPool) {
    let app = app(pool).await;
    let ids: Vec<String> = ["alice", "bob", "carol", "dave", "erin"]
        .map(String::from)
        .to_vec();
    let found = users::profiles(&app.state, &ids).await.unwrap();
    assert_eq!(found.len(), ids.len());
    // both copies of every profile are cached, read back in one MGET split per slot
    let fresh: Vec<String> = ids.iter().map(|u| keys::profile(u)).collect();
    let stale: Vec<String> = ids.iter().map(|u| keys::stale_profile(u)).collect();
    let values = app.state.cache.mget(&fresh).await.unwrap();
    for (id, v) in ids.iter().zip(&values) {
        let v = v.as_deref().unwrap_or_else(|| panic!("{id} not cached"));
        assert!(v.contains(&format!("\"{id}\"")), "{id}: {v}");
    }
    assert!(app
        .state
        .cache
        .mget(&stale)
        .await
        .unwrap()
        .iter()
        .all(Option::is_some));
    // a second batch comes from Redis alone
    app.tms.controls.reset_counters();
    users::profiles(&app.state, &ids).await.unwrap();
    assert_eq!(app.tms.controls.batch_ids_requested(), 0);

    // forgetting a user drops both copies (one pipeline, one slot)
    users::forget(&app.state, "carol", true).await;
    let after = app
        .state
        .cache
        .mget(&[keys::profile("carol"), keys::stale_profile("carol")])
        .await
        .unwrap();
    assert_eq!(after, [None, None]);
    app.raw(Method::GET, "/health/ready", None, None)
        .await
        .expect(200);
}

/// The cost of splitting per user: one presence report of 1,000 users (and
/// `GET /presence`'s read of them) on one server, where it is one script call,
/// and on the cluster, where it is 1,000. Prints the medians of 5 runs; run
/// with `cargo test -p core-api --test redis_cluster report_cost -- --ignored --nocapture`.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
#[ignore = "a measurement, not a check"]
async fn report_cost(pool: PgPool) {
    let ids: Vec<String> = (0..1000).map(|i| format!("cost-{i}")).collect();
    let arrived: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (name, url) in [
        ("one server", common::redis_url()),
        ("cluster", cluster_url()),
    ] {
        let app = TestApp::spawn_with(pool.clone(), |vars| {
            vars.insert("REDIS_URL".into(), url);
        })
        .await;
        let (mut report, mut read) = (Vec::new(), Vec::new());
        for round in 0..5 {
            let gateway = format!("G.{round}");
            let t = Instant::now();
            app.report(&gateway, &arrived, &[]).await;
            report.push(t.elapsed());
            let t = Instant::now();
            presence::get(&app.state, &ids).await.unwrap();
            read.push(t.elapsed());
        }
        report.sort();
        read.sort();
        println!(
            "COST {name:<10} report of 1000 users: median {:>8.1?}; presence of 1000 users: median {:>8.1?}",
            report[2], read[2]
        );
    }
}
