//! Read state across devices: read up to a seq, read all, `conversation_read`
//! to the reader's sockets, and unread counts that match a model after any
//! sequence of sends and reads (a property test over real Postgres).

mod common;

use common::TestApp;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn unread(app: &TestApp, user: &str, conversation_id: &str) -> i64 {
    let r = app.get("/api/v1/conversations?limit=100", user).await;
    r.expect(200);
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conversation_id)
        .map(|c| c["unread_count"].as_i64().unwrap())
        .unwrap_or_else(|| panic!("{conversation_id} not in {user}'s list"))
}

async fn read_rows(app: &TestApp, user: &str, conversation_id: &str) -> Vec<(i64, bool)> {
    sqlx::query_as(
        "SELECT m.seq, s.read_at IS NOT NULL FROM messages m
           JOIN message_status s ON s.message_id = m.id
           JOIN users u ON u.id = s.user_id
          WHERE m.conversation_id = $1::uuid AND u.tms_user_id = $2 ORDER BY m.seq",
    )
    .bind(conversation_id)
    .bind(user)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn read_up_to_marks_the_range_and_tells_every_device(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.report("DFW.0", &["alice", "bob"], &[]).await;
    app.report("AMS.1", &["bob", "carol"], &[]).await;
    for i in 0..3 {
        app.send("alice", &group, &format!("a{i}")).await;
    }
    app.send("carol", &group, "c").await; // seq 4
    app.send("alice", &group, "a3").await; // seq 5
    assert_eq!(unread(&app, "bob", &group).await, 5);

    let path = format!("/api/v1/conversations/{group}/read");
    let r = app.post(&path, "bob", json!({"seq": 4})).await;
    r.expect(200);
    assert_eq!(
        r.data(),
        &json!({"conversation_id": group, "last_read_seq": 4, "unread_count": 1})
    );
    assert_eq!(unread(&app, "bob", &group).await, 1);
    assert_eq!(
        read_rows(&app, "bob", &group).await,
        vec![(1, true), (2, true), (3, true), (4, true)]
    );

    let read = edge.wait_for("conversation_read", 1).await;
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(read[0]["namespace"], "/notifications");
    assert_eq!(
        read[0]["target"],
        json!({"kind": "gateways", "gateways": [
            {"gateway": "AMS.1", "user_ids": ["bob"]},
            {"gateway": "DFW.0", "user_ids": ["bob"]},
        ]}),
        "every device of the reader, nobody else"
    );
    assert_eq!(read[0]["data"], r.data().clone());
    // one message_status per message newly read, to its sender only
    let status = edge.wait_for("message_status", 4).await;
    assert_eq!(status.len(), 4, "{status:?}");
    let to_carol: Vec<&Value> = status
        .iter()
        .filter(|s| s["target"]["gateways"][0]["user_ids"] == json!(["carol"]))
        .collect();
    assert_eq!(to_carol.len(), 1);
    assert!(status.iter().all(|s| s["data"]["user_id"] == "bob"));

    // a mark never moves back, and an older seq changes nothing
    let r = app.post(&path, "bob", json!({"seq": 2})).await;
    r.expect(200);
    assert_eq!(r.data()["last_read_seq"], 4);
    // above the last: taken as the last
    let r = app.post(&path, "bob", json!({"seq": 999})).await;
    r.expect(200);
    assert_eq!(
        r.data(),
        &json!({"conversation_id": group, "last_read_seq": 5, "unread_count": 0})
    );
    let read = edge.wait_for("conversation_read", 2).await;
    assert_eq!(
        read.len(),
        2,
        "only the calls that moved the mark: {read:?}"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn read_up_to_refuses_bad_input_and_strangers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.send("alice", &dm, "hi").await;
    let path = format!("/api/v1/conversations/{dm}/read");
    app.post(&path, "bob", json!({"seq": -1}))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.post(&path, "bob", json!({"seq": "x"}))
        .await
        .expect(422);
    app.post(&path, "bob", json!({})).await.expect(422);
    app.post(&path, "carol", json!({"seq": 1}))
        .await
        .expect_error(403, "FORBIDDEN");
    let unknown = uuid::Uuid::new_v4();
    app.post(
        &format!("/api/v1/conversations/{unknown}/read"),
        "bob",
        json!({"seq": 1}),
    )
    .await
    .expect_error(404, "NOT_FOUND");
    app.raw(Method::POST, &path, None, Some(&json!({"seq": 1})))
        .await
        .expect(401);
    // nothing changed
    assert_eq!(unread(&app, "bob", &dm).await, 1);
    assert!(read_rows(&app, "bob", &dm).await.is_empty());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn read_all_marks_every_conversation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let group = app.conversation("carol", "group", &["bob"]).await;
    let quiet = app.conversation("dave", "direct", &["bob"]).await;
    app.send("alice", &dm, "1").await;
    app.send("alice", &dm, "2").await;
    app.send("carol", &group, "3").await;
    let r = app
        .post("/api/v1/conversations/read-all", "bob", json!({}))
        .await;
    r.expect(200);
    let mut got = r.data().as_array().unwrap().clone();
    got.sort_by_key(|c| c["conversation_id"].as_str().unwrap().to_string());
    let mut want = vec![
        json!({"conversation_id": dm, "last_read_seq": 2, "unread_count": 0}),
        json!({"conversation_id": group, "last_read_seq": 1, "unread_count": 0}),
    ];
    want.sort_by_key(|c| c["conversation_id"].as_str().unwrap().to_string());
    assert_eq!(got, want);
    for c in [&dm, &group, &quiet] {
        assert_eq!(unread(&app, "bob", c).await, 0);
    }
    assert_eq!(
        read_rows(&app, "bob", &dm).await,
        vec![(1, true), (2, true)]
    );
    // again: nothing left to mark
    let r = app
        .post("/api/v1/conversations/read-all", "bob", json!({}))
        .await;
    r.expect(200);
    assert_eq!(r.data(), &json!([]));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_single_read_receipt_also_tells_the_readers_devices(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("DFW.0", &["bob"], &[]).await;
    app.send("alice", &dm, "1").await;
    let second = app.send("alice", &dm, "2").await;
    let path = format!("/api/v1/messages/{}/read", second["id"].as_str().unwrap());
    app.post(&path, "bob", json!({})).await.expect(200);
    let read = edge.wait_for("conversation_read", 1).await;
    assert_eq!(
        read[0]["data"],
        json!({"conversation_id": dm, "last_read_seq": 2, "unread_count": 0})
    );
}

// ---- the property: unread counts match a model after any sends and reads ----

const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    /// Read up to `seq` = this fraction (per mille) of the last seq, or past it.
    ReadUpTo(usize, u32),
    /// A single message's read receipt, by index into the sent messages.
    ReadOne(usize, usize),
    ReadAll(usize),
    /// The sender deletes this message (by index).
    Delete(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Send),
        2 => (0..3usize, 0..1200u32).prop_map(|(u, f)| Op::ReadUpTo(u, f)),
        1 => (0..3usize, 0..64usize).prop_map(|(u, i)| Op::ReadOne(u, i)),
        1 => (0..3usize).prop_map(Op::ReadAll),
        1 => (0..64usize).prop_map(Op::Delete),
    ]
}

#[derive(Default)]
struct Model {
    /// (sender, deleted) by seq - 1.
    messages: Vec<(usize, bool)>,
    last_read: [i64; 3],
}

impl Model {
    fn unread(&self, user: usize) -> i64 {
        self.messages
            .iter()
            .enumerate()
            .filter(|(i, (sender, deleted))| {
                (*i as i64 + 1) > self.last_read[user] && *sender != user && !deleted
            })
            .count() as i64
    }
}

async fn run_case(app: &TestApp, ops: &[Op]) {
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let mut model = Model::default();
    let mut ids: Vec<String> = Vec::new();
    for op in ops {
        match *op {
            Op::Send(u) => {
                let m = app.send(USERS[u], &group, "x").await;
                ids.push(m["id"].as_str().unwrap().to_string());
                model.messages.push((u, false));
                model.last_read[u] = model.messages.len() as i64;
            }
            Op::ReadUpTo(u, per_mille) => {
                let last = model.messages.len() as i64;
                let seq = last * per_mille as i64 / 1000;
                let r = app
                    .post(
                        &format!("/api/v1/conversations/{group}/read"),
                        USERS[u],
                        json!({ "seq": seq }),
                    )
                    .await;
                r.expect(200);
                model.last_read[u] = model.last_read[u].max(seq.min(last));
                assert_eq!(r.data()["last_read_seq"], model.last_read[u], "{ops:?}");
                assert_eq!(r.data()["unread_count"], model.unread(u), "{ops:?}");
            }
            Op::ReadOne(u, i) if !ids.is_empty() => {
                let i = i % ids.len();
                let r = app
                    .post(
                        &format!("/api/v1/messages/{}/read", ids[i]),
                        USERS[u],
                        json!({}),
                    )
                    .await;
                if model.messages[i].0 == u {
                    r.expect(422);
                } else {
                    r.expect(200);
                    model.last_read[u] = model.last_read[u].max(i as i64 + 1);
                }
            }
            Op::ReadAll(u) => {
                app.post("/api/v1/conversations/read-all", USERS[u], json!({}))
                    .await
                    .expect(200);
                model.last_read[u] = model.messages.len() as i64;
            }
            Op::Delete(i) if !ids.is_empty() => {
                let i = i % ids.len();
                let sender = USERS[model.messages[i].0];
                app.call(
                    Method::DELETE,
                    &format!("/api/v1/messages/{}", ids[i]),
                    sender,
                    None,
                )
                .await
                .expect(200);
                model.messages[i].1 = true;
            }
            _ => {}
        }
    }
    for (u, user) in USERS.iter().enumerate() {
        assert_eq!(
            unread(app, user, &group).await,
            model.unread(u),
            "{user} after {ops:?}"
        );
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn unread_counts_match_the_model_after_any_sends_and_reads(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // fixed seed: the same cases on every run; each case a conversation of its own
    let config = PropConfig::with_cases(40);
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = prop::collection::vec(op(), 1..30);
    for _ in 0..40 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        run_case(&app, &ops).await;
    }
}
