//! One master of a three-master Redis Cluster hung (SIGSTOP): a third of the
//! slots stop answering, so core counts Redis down (its probe PINGs every
//! master), serves from TMS and Postgres within the same bounds as for one
//! hung server, queues its invalidations, and is back on the cluster within
//! seconds of the master answering again.

use std::time::Duration;

use reqwest::Method;
use sqlx::PgPool;

use super::procs::RedisCluster;
use super::redis_faults::{exercise, BOUND};
use super::{ready, recovery, signed, timed};
use crate::common::TestApp;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_cluster_master_hung(pool: PgPool) {
    let cluster = RedisCluster::start().await;
    let url = cluster.url();
    let app = TestApp::spawn_with(pool, |vars| {
        vars.insert("REDIS_URL".into(), url);
        vars.insert("REDIS_RESPONSE_TIMEOUT_MS".into(), "1000".into());
        vars.insert("REDIS_CONNECT_TIMEOUT_MS".into(), "250".into());
    })
    .await;
    assert!(app.state.cache.is_cluster());
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
    assert!(is_member("carol").await);
    ready(&app).await.expect(200);

    let hung = &cluster.nodes[1];
    hung.freeze();
    let (r, first_ready) = timed(ready(&app)).await;
    r.expect_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(r.body["error"]["details"]["redis"], "down");
    println!("FAULT cluster-node-hung first GET /health/ready after SIGSTOP of one master: 503 in {first_ready:.1?}");
    assert!(first_ready < Duration::from_millis(800), "{first_ready:?}");
    let (r, first) = timed(app.get("/api/v1/users/erin", "alice")).await;
    r.expect(200);
    assert!(first < BOUND, "{first:?}");
    exercise(&app, "cluster-node-hung", &group).await;

    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/carol"),
        "alice",
        None,
    )
    .await
    .expect(200);
    assert!(!is_member("carol").await, "Postgres says carol left");

    hung.thaw();
    let back = recovery(Duration::from_secs(10), || async {
        ready(&app).await.status == 200
    })
    .await;
    println!("FAULT cluster-node-hung recovery after SIGCONT: ready again in {back:.1?}");
    assert!(
        !is_member("carol").await,
        "stale membership served after recovery"
    );
    let cached: Option<String> = app
        .state
        .cache
        .get(&core_api::cache::keys::members_version(
            group.parse().unwrap(),
        ))
        .await
        .unwrap();
    assert!(
        cached.is_some(),
        "the queued invalidation reached the cluster"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn redis_cluster_master_killed_and_restarted(pool: PgPool) {
    let mut cluster = RedisCluster::start().await;
    let url = cluster.url();
    let app = TestApp::spawn_with(pool, |vars| {
        vars.insert("REDIS_URL".into(), url);
    })
    .await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    ready(&app).await.expect(200);

    // SIGKILL: the node's connections drop and its keys are gone
    cluster.nodes[2].kill();
    exercise(&app, "cluster-node-killed", &group).await;

    // back on its port with its nodes.conf: it rejoins, owning the same slots
    cluster.nodes[2].restart().await;
    let back = recovery(Duration::from_secs(10), || async {
        ready(&app).await.status == 200
    })
    .await;
    println!(
        "FAULT cluster-node-killed recovery after the master restarted: ready again in {back:.1?}"
    );
    // every user's profile lands in the cluster again, whichever master holds it
    let ids: Vec<String> = ["alice", "bob", "carol", "dave", "erin"]
        .map(String::from)
        .to_vec();
    for id in &ids {
        app.get(&format!("/api/v1/users/{id}"), "alice")
            .await
            .expect(200);
    }
    let keys: Vec<String> = ids
        .iter()
        .map(|u| core_api::cache::keys::profile(u))
        .collect();
    let cached = app.state.cache.mget(&keys).await.unwrap();
    assert!(cached.iter().all(Option::is_some), "{cached:?}");
}
