//! Core → edge: after commit, core pushes events to `EDGE_FANOUT_URL` in
//! signed batches, through bounded lanes that keep each target's order. User
//! targets are resolved from presence when sent. The edge is a stand-in.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

fn gateways(pairs: &[(&str, &[&str])]) -> Value {
    json!(pairs
        .iter()
        .map(|(g, users)| json!({"gateway": g, "user_ids": users}))
        .collect::<Vec<_>>())
}

/// The gateways a `members` target names, in order.
fn named_gateways(target: &Value) -> Vec<&str> {
    target["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gateway"].as_str().unwrap())
        .collect()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn new_message_goes_to_the_room_and_names_the_gateways_of_online_members(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    // alice on two devices in two places, bob next to her, carol offline
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    app.report("AMS.1", &["alice"], &[]).await;
    let sent = app.send("alice", &group, "hello").await;

    let pushed = edge.wait_for("new_message", 1).await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let e = &pushed[0];
    assert_eq!(e["namespace"], "/messaging");
    assert_eq!(e["seq"], 1, "new messages carry the room's order key");
    assert_eq!(e["data"]["id"], sent["id"]);
    assert_eq!(e["target"]["kind"], "conversation");
    assert_eq!(e["target"]["conversation_id"], group.as_str());
    // the gateways holding online members (the sender's other devices
    // included), never the members: carol has no socket anywhere
    let named: Vec<&str> = e["target"]["notify"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gateway"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["AMS.1", "DFW.0"]);
    assert!(e.get("evict_user_id").is_none());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn edits_and_deletes_only_go_to_the_room(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    let sent = app.send("alice", &dm, "typo").await;
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        "alice",
        Some(json!({"content": "fixed"})),
    )
    .await
    .expect(200);
    let updated = edge.wait_for("message_updated", 1).await;
    assert_eq!(updated.len(), 1);
    assert!(updated[0]["seq"].is_null(), "an edit is not a new position");
    assert_eq!(updated[0]["data"]["content"], "fixed");
    assert_eq!(
        updated[0]["target"],
        json!({"kind": "conversation", "conversation_id": dm}),
        "no notify outside new_message"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn edits_then_deletes_arrive_in_order(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let sent = app.send("alice", &dm, &format!("m{i}")).await;
        let path = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
        app.call(Method::PATCH, &path, "alice", Some(json!({"content": "e"})))
            .await
            .expect(200);
        app.call(Method::DELETE, &path, "alice", None)
            .await
            .expect(200);
        ids.push(sent["id"].clone());
    }
    edge.wait_for("message_deleted", 10).await;
    let room: Vec<(String, Value)> = edge
        .events()
        .into_iter()
        .filter(|e| e["target"]["kind"] == "conversation")
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["data"]["id"].clone(),
            )
        })
        .collect();
    let expected: Vec<(String, Value)> = ids
        .iter()
        .flat_map(|id| {
            ["new_message", "message_updated", "message_deleted"]
                .map(|name| (name.to_string(), id.clone()))
        })
        .collect();
    assert_eq!(room, expected, "one conversation's events keep their order");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_stalled_edge_gets_the_backlog_batched_and_in_order(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_TIMEOUT_MS".into(), "10000".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let stall = edge.stall().await;
    for i in 0..30 {
        // each answer comes at once: nothing waits on the edge
        let sent = tokio::time::timeout(
            Duration::from_secs(2),
            app.send("alice", &dm, &format!("m{i}")),
        )
        .await
        .expect("a send never waits on the edge");
        assert_eq!(sent["seq"], i + 1);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(edge.batches().is_empty(), "held at the gate");
    drop(stall);
    let pushed = edge.wait_for("new_message", 30).await;
    let seqs: Vec<i64> = pushed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "complete and in order");
    let posts = edge.batches().len();
    assert!(
        (1..=3).contains(&posts),
        "{posts} POSTs for 30 events: one in flight at the gate, then the backlog as one batch"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_full_lane_drops_instead_of_growing(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_LANES".into(), "1".into());
        v.insert("FANOUT_QUEUE_CAPACITY".into(), "3".into());
        v.insert("FANOUT_TIMEOUT_MS".into(), "10000".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let stall = edge.stall().await;
    // the lane picks up the first event and waits at the gate; three more queue
    app.send("alice", &dm, "first").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..8 {
        app.send("alice", &dm, &format!("m{i}")).await;
    }
    let stats = app.state.fanout.stats().unwrap();
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 5);
    drop(stall);
    let pushed = edge.wait_for("new_message", 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seqs: Vec<i64> = edge
        .named("new_message")
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "{pushed:?}");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn server_errors_are_retried_in_order(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    edge.fail_next(2);
    app.send("alice", &dm, "one").await;
    app.send("alice", &dm, "two").await;
    let pushed = edge.wait_for("new_message", 2).await;
    let seqs: Vec<&Value> = pushed.iter().map(|e| &e["seq"]).collect();
    assert_eq!(seqs, vec![&json!(1), &json!(2)]);
    assert!(
        edge.requests.load(Ordering::SeqCst) >= 3,
        "two 503s, then accepted"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn drain_sends_what_is_queued_then_refuses(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_TIMEOUT_MS".into(), "10000".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let stall = edge.stall().await;
    for i in 0..5 {
        app.send("alice", &dm, &format!("m{i}")).await;
    }
    let fanout = app.state.fanout.clone();
    let drained = tokio::spawn(async move { fanout.drain(Duration::from_secs(5)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stall);
    assert!(drained.await.unwrap(), "drained within the bound");
    assert_eq!(edge.named("new_message").len(), 5);
    app.send("alice", &dm, "late").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(edge.named("new_message").len(), 5, "nothing after drain");
    assert_eq!(
        app.state
            .fanout
            .stats()
            .unwrap()
            .dropped
            .load(Ordering::Relaxed),
        1
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn drain_gives_up_at_its_bound(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_TIMEOUT_MS".into(), "10000".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let _stall = edge.stall().await;
    app.send("alice", &dm, "stuck").await;
    let started = std::time::Instant::now();
    assert!(!app.state.fanout.drain(Duration::from_millis(200)).await);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn receipts_reach_only_the_senders_gateways(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.report("DFW.0", &["alice", "carol"], &[]).await;
    app.report("AMS.1", &["alice", "bob"], &[]).await;
    let sent = app.send("alice", &group, "read me").await;
    let path = format!("/api/v1/messages/{}/read", sent["id"].as_str().unwrap());
    app.post(&path, "bob", json!({})).await.expect(200);

    let status = edge.wait_for("message_status", 1).await;
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!(
        status[0]["target"],
        json!({"kind": "gateways", "gateways": gateways(&[("AMS.1", &["alice"]), ("DFW.0", &["alice"])])}),
        "every device of the sender, nobody else"
    );
    assert_eq!(status[0]["data"]["user_id"], "bob");
    assert_eq!(status[0]["data"]["status"], "read");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn user_events_follow_presence_and_skip_the_offline(pool: PgPool) {
    // one lane: the events leave in the order they were published
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_LANES".into(), "1".into());
    })
    .await;
    // nobody online: the creation is not pushed at all
    let group = app.conversation("alice", "group", &["bob"]).await;
    // barrier: a message's room event always goes out, after the creation's resolution
    app.send("alice", &group, "first").await;
    edge.wait_for("new_message", 1).await;
    app.report("DFW.0", &["alice"], &[]).await;
    app.report("AMS.1", &["carol"], &[]).await;
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["bob", "carol"]}),
    )
    .await
    .expect(200);
    let added = edge.wait_for("member_added", 1).await;
    assert_eq!(added[0]["namespace"], "/notifications");
    assert_eq!(
        added[0]["data"]["user_ids"],
        json!(["carol"]),
        "bob was already in"
    );
    // the conversation's notify set (carol's gateway registered by the
    // addition), never its members: each gateway decides for its users
    let target = &added[0]["target"];
    assert_eq!(target["kind"], "members");
    assert_eq!(target["conversation_id"], group.as_str());
    assert_eq!(named_gateways(target), ["AMS.1", "DFW.0"]);
    assert!(target.get("also").is_none());
    assert!(
        edge.named("conversation_updated").is_empty(),
        "the creation happened while nobody was online"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_removal_evicts_the_user_from_the_room(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let removed = edge.wait_for("member_removed", 2).await;
    let room: Vec<&Value> = removed
        .iter()
        .filter(|e| e["target"]["kind"] == "conversation")
        .collect();
    assert_eq!(room.len(), 1, "{removed:?}");
    assert_eq!(room[0]["evict_user_id"], "bob");
    assert_eq!(room[0]["namespace"], "/messaging");
    let notified = removed
        .iter()
        .find(|e| e["target"]["kind"] == "members")
        .expect("members told on /notifications");
    assert_eq!(named_gateways(&notified["target"]), ["DFW.0"]);
    assert_eq!(
        notified["target"]["also"],
        gateways(&[("DFW.0", &["bob"])]),
        "the removed user hears it too"
    );
    assert!(
        notified["removal_epoch"].as_i64().unwrap() >= 1,
        "stamped: a gateway asks again who is a member"
    );
    // the members' part comes first, on the same lane
    let order: Vec<&str> = removed
        .iter()
        .map(|e| e["target"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec!["members", "conversation"]);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_repeated_delete_is_answered_but_announced_once(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let sent = app.send("alice", &dm, "oops").await;
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    let first = app.call(Method::DELETE, &path, "alice", None).await;
    first.expect(200);
    let again = app.call(Method::DELETE, &path, "alice", None).await;
    again.expect(200);
    assert_eq!(again.data()["deleted_at"], first.data()["deleted_at"]);
    edge.wait_for("message_deleted", 1).await;
    // the barrier: a later event on the conversation's lane; a repeat would have come before it
    let marker = app.send("alice", &dm, "barrier").await;
    edge.wait_for_where("new_message", |e| e["data"]["id"] == marker["id"])
        .await;
    assert_eq!(edge.named("message_deleted").len(), 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn unreadable_presence_drops_only_the_user_part(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_LANES".into(), "1".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    // barrier: the creation was resolved (nobody online) before presence breaks
    app.send("alice", &dm, "first").await;
    edge.wait_for("new_message", 1).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    // a key of the wrong type makes the presence pipeline fail, as a Redis error would
    let mut redis = app.state.cache.connection();
    let _: () = redis::cmd("SET")
        .arg(
            app.state
                .cache
                .key(&core_api::cache::keys::presence("alice")),
        )
        .arg("not a hash")
        .query_async(&mut redis)
        .await
        .unwrap();
    let sent = app.send("alice", &dm, "still delivered to the room").await;
    let path = format!("/api/v1/messages/{}/read", sent["id"].as_str().unwrap());
    app.post(&path, "bob", json!({})).await.expect(200);
    let pushed = edge.wait_for("new_message", 2).await;
    assert_eq!(
        pushed[1]["target"]["notify"][0]["gateway"], "DFW.0",
        "a new message's notify part reads the gateway set, not presence"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        edge.named("message_status").is_empty(),
        "a user-only event has nothing left to send"
    );
    let stats = app.state.fanout.stats().unwrap();
    // message_status to alice, conversation_read to bob
    assert_eq!(stats.unresolved.load(Ordering::Relaxed), 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_batch_over_the_edge_body_limit_goes_as_consecutive_parts_in_order(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("FANOUT_LANES".into(), "1".into());
        v.insert("FANOUT_TIMEOUT_MS".into(), "10000".into());
    })
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let stall = edge.stall().await;
    app.send("alice", &dm, "first").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 80 messages of 4,000 characters queue behind it: about 2.5 times the edge's body limit
    let long = "x".repeat(4000);
    for _ in 0..80 {
        app.send("alice", &dm, &long).await;
    }
    drop(stall);
    let pushed = edge.wait_for("new_message", 81).await;
    let seqs: Vec<i64> = pushed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=81).collect::<Vec<_>>(), "complete and in order");
    let batches = edge.batches();
    assert!(
        batches.len() >= 3,
        "the first, then the backlog in at least two parts: {}",
        batches.len()
    );
    for batch in &batches {
        let bytes = serde_json::to_vec(batch).unwrap().len();
        assert!(
            bytes <= shared_types::limits::MAX_BODY_BYTES,
            "{bytes} bytes in one POST"
        );
    }
}
