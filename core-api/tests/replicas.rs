//! Several core replicas over one Postgres and one Redis: two apps built from
//! the same configuration (one Redis key prefix), each with its own group
//! commit, serving the same conversations at once.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::TestApp;
use core_api::models::message::DbMessageKind;
use core_api::repositories::sends::NewMessage;
use core_api::send_queue::insert_in_order;
use sqlx::PgPool;
use uuid::Uuid;

/// Two replicas sharing the database and the Redis prefix, group commit on.
async fn two_replicas(pool: PgPool) -> (Arc<TestApp>, Arc<TestApp>) {
    let prefix = format!("test:{}:", Uuid::new_v4());
    let p = prefix.clone();
    let a = TestApp::spawn_with(pool.clone(), move |v| {
        v.insert("REDIS_KEY_PREFIX".into(), p);
        v.insert("SEND_BATCH_MAX".into(), "64".into());
    })
    .await;
    let b = TestApp::spawn_with(pool, move |v| {
        v.insert("REDIS_KEY_PREFIX".into(), prefix);
        v.insert("SEND_BATCH_MAX".into(), "64".into());
    })
    .await;
    (Arc::new(a), Arc::new(b))
}

async fn deadlocks(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(deadlocks, 0) FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Concurrent sends to the same conversations through both replicas: every
/// one acknowledged 201 and stored once, `seq` gap-free in each conversation.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn sends_through_two_replicas_are_all_stored_gap_free(pool: PgPool) {
    let (a, b) = two_replicas(pool.clone()).await;
    let users = ["alice", "bob", "carol"];
    let mut convs = Vec::new();
    for i in 0..6 {
        let owner = users[i % 3];
        let others: Vec<&str> = users.iter().copied().filter(|u| *u != owner).collect();
        convs.push(a.conversation(owner, "group", &others).await);
    }
    let mut tasks = Vec::new();
    for i in 0..240 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        // the two replicas walk the conversations in opposite orders
        let c = if i % 2 == 0 { i / 2 % 6 } else { 5 - i / 2 % 6 };
        let conv = convs[c].clone();
        let user = users[i % 3];
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "conversation_id": conv, "type": "text", "content": format!("r{i}"),
                "client_msg_id": format!("cm-{i}"),
            });
            let r = app.post("/api/v1/messages", user, body).await;
            (r.status.as_u16(), r.data()["id"].as_str().map(String::from))
        }));
    }
    let mut acked = BTreeSet::new();
    for t in tasks {
        let (status, id) = t.await.unwrap();
        assert_eq!(
            status, 201,
            "every send through either replica is acknowledged"
        );
        acked.insert(id.expect("an id"));
    }
    assert_eq!(acked.len(), 240);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM messages WHERE content LIKE 'r%'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let stored: BTreeSet<String> = stored.into_iter().collect();
    assert_eq!(stored, acked, "0 lost, nothing stored unacknowledged");
    for c in &convs {
        let (n, max, last): (i64, Option<i64>, i64) = sqlx::query_as(
            "SELECT count(m.id), max(m.seq), c.last_seq FROM conversations c
               LEFT JOIN messages m ON m.conversation_id = c.id
              WHERE c.id = $1::uuid GROUP BY c.last_seq",
        )
        .bind(c)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((n, max, last), (40, Some(40), 40), "seq 1..=40 in {c}");
    }
}

fn text(conversation: Uuid, sender: Uuid, content: String) -> NewMessage {
    NewMessage {
        id: Uuid::new_v4(),
        conversation_id: conversation,
        sender_id: sender,
        kind: DbMessageKind::Text,
        content: Some(content),
        attachment: None,
        reply_to_id: None,
        client_msg_id: None,
        mentions: Vec::new(),
        mentions_all: false,
    }
}

/// The fixed lock order: two writers (as in two replicas) store batches over
/// overlapping sets of the same conversations (every set of 2 to 8 of them,
/// in opposite orders, each writer with its own sizes), many times over;
/// not one batch fails (a deadlock would fail one of each pair that met),
/// and Postgres counts no deadlock in the test's database.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn batches_in_opposite_orders_never_deadlock(pool: PgPool) {
    let (a, _b) = two_replicas(pool.clone()).await;
    let users = ["alice", "bob", "carol"];
    let mut convs = Vec::new();
    for _ in 0..8 {
        let id = a.conversation("alice", "group", &["bob", "carol"]).await;
        convs.push(id.parse::<Uuid>().unwrap());
    }
    let mut ids = Vec::new();
    for u in users {
        let id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE tms_user_id = $1")
            .bind(u)
            .fetch_one(&pool)
            .await
            .unwrap();
        ids.push(id);
    }
    let before = deadlocks(&pool).await;
    let rounds = 60;
    let mut writers = Vec::new();
    for w in 0..2usize {
        let (pool, convs, ids) = (pool.clone(), convs.clone(), ids.clone());
        writers.push(tokio::spawn(async move {
            let mut stored_total = 0;
            for r in 0..rounds {
                // a window of 2..=8 conversations, where and how long the round says
                let size = 2 + (r * (3 + w)) % 7;
                let start = (r * (5 + 2 * w)) % convs.len();
                let mut order: Vec<Uuid> = (0..size)
                    .map(|k| convs[(start + k) % convs.len()])
                    .collect();
                if w == 1 {
                    order.reverse();
                }
                let batch: Vec<NewMessage> = order
                    .iter()
                    .enumerate()
                    .map(|(i, c)| text(*c, ids[(i + w + r) % 3], format!("w{w} r{r} {i}")))
                    .collect();
                let stored = insert_in_order(&pool, &batch)
                    .await
                    .unwrap_or_else(|e| panic!("writer {w}, round {r}: {e}"));
                assert_eq!(stored.len(), size);
                stored_total += size;
            }
            stored_total
        }));
    }
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    let mut all = 0;
    for c in &convs {
        let seqs: Vec<i64> =
            sqlx::query_scalar("SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq")
                .bind(c)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "gap-free"
        );
        all += seqs.len();
    }
    assert_eq!(all, total, "every stored send is there");
    // the counter of another backend reaches the view when it flushes its
    // statistics; a deadlock would also have failed a batch above
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(deadlocks(&pool).await, before);
}

/// Events of one conversation stored by different replicas: an event about a
/// message (edit, reaction, delete) carries that message's `seq` as
/// `after_seq`, so the Room (tested in the edge's `room::tests`) holds it
/// until the message itself, whichever replica pushes that.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn events_about_a_message_name_it_for_the_rooms_order(pool: PgPool) {
    let edge = common::edge::EdgeStandIn::start().await;
    let prefix = format!("test:{}:", Uuid::new_v4());
    let (p, url) = (prefix.clone(), edge.url.clone());
    let a = TestApp::spawn_with(pool.clone(), move |v| {
        v.insert("REDIS_KEY_PREFIX".into(), p);
        v.insert("EDGE_FANOUT_URL".into(), url);
    })
    .await;
    let url = edge.url.clone();
    let b = TestApp::spawn_with(pool, move |v| {
        v.insert("REDIS_KEY_PREFIX".into(), prefix);
        v.insert("EDGE_FANOUT_URL".into(), url);
    })
    .await;
    let g = a.conversation("alice", "group", &["bob"]).await;
    a.send("alice", &g, "first").await;
    let m = a.send("alice", &g, "second").await;
    let id = m["id"].as_str().unwrap();
    let seq = m["seq"].as_i64().unwrap();
    assert_eq!(seq, 2);
    // through the other replica
    b.call(
        reqwest::Method::PATCH,
        &format!("/api/v1/messages/{id}"),
        "alice",
        Some(serde_json::json!({ "content": "second, edited" })),
    )
    .await
    .expect(200);
    b.call(
        reqwest::Method::PUT,
        &format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D"),
        "bob",
        None,
    )
    .await
    .expect(201);
    b.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/messages/{id}"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let news = edge.wait_for("new_message", 2).await;
    let seqs: Vec<(Option<i64>, Option<i64>)> = news
        .iter()
        .map(|e| (e["seq"].as_i64(), e["after_seq"].as_i64()))
        .collect();
    assert_eq!(seqs, vec![(Some(1), None), (Some(2), None)]);
    for name in ["message_updated", "reaction_added", "message_deleted"] {
        let got = edge.wait_for(name, 1).await;
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0]["seq"], serde_json::Value::Null, "{name}");
        assert_eq!(got[0]["after_seq"], seq, "{name} follows message {seq}");
    }
}

/// The presence grace timer runs in the replica that took the departure, but
/// the departure itself is in Redis: a return reported to the other replica
/// within the grace cancels it, so the first replica's timer announces
/// nothing about that user (it still announces a user who stayed away, which
/// is the barrier this test waits on).
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_return_to_the_other_replica_within_the_grace_is_no_flap(pool: PgPool) {
    let edge = common::edge::EdgeStandIn::start().await;
    let prefix = format!("test:{}:", Uuid::new_v4());
    let spawn = |pool: PgPool| {
        let (url, prefix) = (edge.url.clone(), prefix.clone());
        TestApp::spawn_with(pool, move |v| {
            v.insert("REDIS_KEY_PREFIX".into(), prefix);
            v.insert("EDGE_FANOUT_URL".into(), url);
            v.insert("PRESENCE_GRACE_MS".into(), "300".into());
        })
    };
    let a = spawn(pool.clone()).await;
    let b = spawn(pool).await;
    a.conversation("bob", "group", &["alice", "carol"]).await;
    a.report("AMS.1", &["bob"], &[]).await;
    a.report("DFW.0", &["alice", "carol"], &[]).await;
    edge.wait_for("user_online", 2).await;

    let r = a.report("DFW.0", &[], &["alice", "carol"]).await;
    assert_eq!(r["went_offline"], 2);
    // alice reconnects to a gateway that reports to the other replica
    let r = b.report("DFW.1", &["alice"], &[]).await;
    assert_eq!(r["came_online"], 0, "a return within the grace");

    let offline = edge.wait_for("user_offline", 1).await;
    let about = |events: &[serde_json::Value], user: &str| {
        events
            .iter()
            .filter(|e| e["data"]["user_id"] == user)
            .count()
    };
    assert_eq!(about(&offline, "carol"), 1, "the timer ran: {offline:?}");
    assert_eq!(about(&offline, "alice"), 0, "{offline:?}");
    assert_eq!(about(&edge.named("user_online"), "alice"), 1);
    let p = b.get("/api/v1/presence?user_ids=alice,carol", "bob").await;
    p.expect(200);
    assert_eq!(p.data()[0]["online"], true);
    assert_eq!(p.data()[1]["online"], false);
}
