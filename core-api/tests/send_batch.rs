//! Group commit: sends stored together keep gap-free `seq`s, idempotency and
//! their own failures, and every acknowledged send is stored.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use common::TestApp;
use core_api::models::message::DbMessageKind;
use core_api::repositories::sends::NewMessage;
use core_api::send_queue::store_batch;
use shared_types::ErrorCode;
use sqlx::PgPool;
use uuid::Uuid;

async fn local_id(pool: &PgPool, tms_user_id: &str) -> Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE tms_user_id = $1")
        .bind(tms_user_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn text(conversation: &str, sender: Uuid, content: &str, cmid: Option<&str>) -> NewMessage {
    NewMessage {
        id: Uuid::new_v4(),
        conversation_id: conversation.parse().unwrap(),
        sender_id: sender,
        kind: DbMessageKind::Text,
        content: Some(content.into()),
        attachment: None,
        reply_to_id: None,
        client_msg_id: cmid.map(Into::into),
        mentions: Vec::new(),
        mentions_all: false,
    }
}

async fn seqs(pool: &PgPool, conversation: &str) -> Vec<i64> {
    sqlx::query_scalar("SELECT seq FROM messages WHERE conversation_id = $1::uuid ORDER BY seq")
        .bind(conversation)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn last_seq(pool: &PgPool, conversation: &str) -> i64 {
    sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1::uuid")
        .bind(conversation)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn one_batch_stores_each_sends_own_mentions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.conversation("alice", "group", &["bob", "carol"]).await;
    let alice = local_id(&app.pool, "alice").await;
    // mentions of different lengths in one statement (arrays of arrays must be rectangular)
    let mut batch: Vec<_> = (0..3)
        .map(|i| text(&a, alice, &format!("m{i}"), None))
        .collect();
    batch[0].mentions = vec!["bob".into(), "carol".into()];
    batch[2].mentions = vec!["carol".into()];
    batch[2].mentions_all = true;
    let answers = store_batch(&app.pool, batch).await;
    let got: Vec<(Vec<String>, bool)> = answers
        .into_iter()
        .map(|r| {
            let m = r.expect("stored").expect("a member's send").message;
            (m.mentions, m.mentions_all)
        })
        .collect();
    let want = vec![
        (vec!["bob".to_string(), "carol".to_string()], false),
        (vec![], false),
        (vec!["carol".to_string()], true),
    ];
    assert_eq!(got, want);
    let stored: Vec<(Vec<String>, bool)> = sqlx::query_as(
        "SELECT mentions, mentions_all FROM messages WHERE conversation_id = $1::uuid ORDER BY seq",
    )
    .bind(&a)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, want);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn one_batch_numbers_each_conversation_in_order(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.conversation("alice", "group", &["bob"]).await;
    let b = app.conversation("alice", "direct", &["carol"]).await;
    let alice = local_id(&app.pool, "alice").await;
    let batch: Vec<_> = (0..10)
        .map(|i| {
            text(
                if i % 2 == 0 { &a } else { &b },
                alice,
                &format!("m{i}"),
                None,
            )
        })
        .collect();
    let answers = store_batch(&app.pool, batch).await;
    let got: Vec<(String, i64)> = answers
        .into_iter()
        .map(|r| {
            let s = r.expect("stored").expect("a member's send");
            assert!(s.created);
            (s.message.content.unwrap(), s.message.seq)
        })
        .collect();
    let want: Vec<(String, i64)> = (0..10).map(|i| (format!("m{i}"), i / 2 + 1)).collect();
    assert_eq!(got, want);
    for c in [&a, &b] {
        assert_eq!(seqs(&app.pool, c).await, vec![1, 2, 3, 4, 5]);
        assert_eq!(last_seq(&app.pool, c).await, 5);
    }
    let read: i64 = sqlx::query_scalar(
        "SELECT last_read_seq FROM conversation_members WHERE conversation_id = $1::uuid AND user_id = $2",
    )
    .bind(&a)
    .bind(alice)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(read, 5, "the sender's read mark follows its last send");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_repeated_client_msg_id_in_one_batch_returns_the_original(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob"]).await;
    let alice = local_id(&app.pool, "alice").await;
    let bob = local_id(&app.pool, "bob").await;
    let batch = vec![
        text(&g, alice, "first", Some("c-1")),
        text(&g, bob, "bob's", Some("c-1")), // another sender may reuse the id
        text(&g, alice, "retry", Some("c-1")),
        text(&g, alice, "other", None),
    ];
    let answers: Vec<_> = store_batch(&app.pool, batch)
        .await
        .into_iter()
        .map(|r| r.expect("stored").expect("a member's send"))
        .collect();
    assert!(answers[0].created && answers[1].created && answers[3].created);
    assert!(!answers[2].created, "the repeat is not stored again");
    assert_eq!(answers[2].message.id, answers[0].message.id);
    assert_eq!(answers[2].message.content.as_deref(), Some("first"));
    assert_eq!(seqs(&app.pool, &g).await, vec![1, 2, 3]);

    // and in a later batch
    let later = store_batch(&app.pool, vec![text(&g, alice, "again", Some("c-1"))]).await;
    let later = later.into_iter().next().unwrap().expect("stored").unwrap();
    assert!(!later.created);
    assert_eq!(later.message.id, answers[0].message.id);
    assert_eq!(last_seq(&app.pool, &g).await, 3);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_failing_send_does_not_fail_its_neighbours(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob"]).await;
    app.conversation("carol", "direct", &["dave"]).await;
    let alice = local_id(&app.pool, "alice").await;
    let carol = local_id(&app.pool, "carol").await;
    let too_long = "x".repeat(65); // breaks the column's CHECK
    let mut dangling = text(&g, alice, "reply", None);
    dangling.reply_to_id = Some(Uuid::new_v4()); // breaks the foreign key
    let batch = vec![
        text(&g, alice, "one", None),
        text(&g, alice, "bad", Some(&too_long)),
        text(&g, alice, "two", None),
        dangling,
        text(&Uuid::new_v4().to_string(), alice, "nowhere", None),
        text(&g, carol, "not a member", None),
        text(&g, alice, "three", None),
    ];
    let answers = store_batch(&app.pool, batch).await;
    // Err: the database refused it; None: not stored, not a member's send
    let outcomes: Vec<Result<bool, ErrorCode>> = answers
        .iter()
        .map(|r| match r {
            Ok(s) => Ok(s.is_some()),
            Err(e) => Err(e.code()),
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            Ok(true),
            Err(ErrorCode::ValidationError),
            Ok(true),
            Err(ErrorCode::Unprocessable),
            Ok(false),
            Ok(false),
            Ok(true)
        ]
    );
    let stored: Vec<(String, i64)> = answers
        .into_iter()
        .flatten()
        .flatten()
        .map(|s| (s.message.content.unwrap(), s.message.seq))
        .collect();
    assert_eq!(
        stored,
        vec![("one".into(), 1), ("two".into(), 2), ("three".into(), 3)]
    );
    assert_eq!(seqs(&app.pool, &g).await, vec![1, 2, 3]);
    assert_eq!(last_seq(&app.pool, &g).await, 3);
}

/// Through the API: concurrent sends share commits, and what was acknowledged
/// is what is stored, with unique, gap-free `seq`s.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn concurrent_sends_share_commits_and_acknowledged_means_stored(pool: PgPool) {
    let app = Arc::new(TestApp::spawn(pool).await);
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (app, g) = (app.clone(), g.clone());
        let user = ["alice", "bob", "carol"][i % 3];
        // every tenth is one retried message of carol's
        let cmid = (i % 10 == 2).then_some("carol-retry");
        let user = if cmid.is_some() { "carol" } else { user };
        tasks.push(tokio::spawn(async move {
            let mut body = serde_json::json!({ "conversation_id": g, "type": "text", "content": format!("m{i}") });
            if let Some(c) = cmid {
                body["client_msg_id"] = c.into();
            }
            let r = app.post("/api/v1/messages", user, body).await;
            (r.status.as_u16(), r.data().clone(), cmid.is_some())
        }));
    }
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut retried_ids = BTreeSet::new();
    let mut created_retries = 0;
    for t in tasks {
        let (status, data, is_retry) = t.await.unwrap();
        assert!(
            status == 201 || (status == 200 && is_retry),
            "{status}: {data}"
        );
        let id = data["id"].as_str().unwrap().to_string();
        if is_retry {
            retried_ids.insert(id.clone());
            created_retries += usize::from(status == 201);
        }
        if status == 201 {
            assert!(acked.insert(id, data["seq"].as_i64().unwrap()).is_none());
        }
    }
    assert_eq!(
        retried_ids.len(),
        1,
        "six sends of one client_msg_id, one message"
    );
    assert_eq!(created_retries, 1);
    assert_eq!(acked.len(), 55);
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT id, seq FROM messages WHERE conversation_id = $1::uuid")
            .bind(&g)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let stored: HashMap<String, i64> = rows.iter().map(|(id, s)| (id.to_string(), *s)).collect();
    assert_eq!(
        stored, acked,
        "acknowledged sends and stored rows are the same"
    );
    let seqs: BTreeSet<i64> = stored.values().copied().collect();
    assert_eq!(seqs, (1..=55).collect::<BTreeSet<i64>>());
    // rows of one batch share their transaction's timestamp
    let commits: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT created_at) FROM messages WHERE conversation_id = $1::uuid",
    )
    .bind(&g)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        commits < 55,
        "55 sends in {commits} commits: nothing was batched"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn without_group_commit_each_send_commits_alone(pool: PgPool) {
    let app = Arc::new(
        TestApp::spawn_with(pool, |v| {
            v.insert("SEND_BATCH_MAX".into(), "1".into());
        })
        .await,
    );
    let g = app.conversation("alice", "group", &["bob"]).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, g) = (app.clone(), g.clone());
            tokio::spawn(async move { app.send("bob", &g, &format!("m{i}")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(seqs(&app.pool, &g).await, (1..=20).collect::<Vec<i64>>());
    let commits: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT created_at) FROM messages WHERE conversation_id = $1::uuid",
    )
    .bind(&g)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(commits, 20);
}

/// A send the statement does not store is explained: 404 for no such
/// conversation, 403 for a non-member, and nothing is stored.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_send_that_is_not_stored_says_why(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob"]).await;
    let missing = Uuid::new_v4();
    app.post(
        "/api/v1/messages",
        "alice",
        serde_json::json!({ "conversation_id": missing, "type": "text", "content": "hi" }),
    )
    .await
    .expect_error(404, "NOT_FOUND");
    app.post(
        "/api/v1/messages",
        "carol",
        serde_json::json!({ "conversation_id": g, "type": "text", "content": "hi" }),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    assert!(seqs(&app.pool, &g).await.is_empty());
    assert_eq!(last_seq(&app.pool, &g).await, 0);
}
