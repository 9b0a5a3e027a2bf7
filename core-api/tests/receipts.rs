mod common;

use common::TestApp;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn read_and_delivered_receipts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let m1 = app.send("alice", &g, "one").await;
    let m2 = app.send("alice", &g, "two").await;
    let (id1, id2) = (m1["id"].as_str().unwrap(), m2["id"].as_str().unwrap());

    let unread = |r: &common::Reply| {
        r.data().as_array().unwrap()[0]["unread_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(unread(&app.get("/api/v1/conversations", "bob").await), 2);

    let d = app
        .post(
            &format!("/api/v1/messages/{id1}/delivered"),
            "bob",
            json!({}),
        )
        .await;
    d.expect(200);
    assert!(d.data()["delivered_at"].is_string() && d.data()["read_at"].is_null());
    let r = app
        .post(&format!("/api/v1/messages/{id2}/read"), "bob", json!({}))
        .await;
    r.expect(200);
    assert!(r.data()["read_at"].is_string());
    // reading the newest message reads everything before it
    assert_eq!(unread(&app.get("/api/v1/conversations", "bob").await), 0);
    assert_eq!(unread(&app.get("/api/v1/conversations", "carol").await), 2);

    let status = app
        .get(&format!("/api/v1/messages/{id2}/status"), "alice")
        .await;
    status.expect(200);
    assert_eq!(status.data()[0]["user_id"], "bob");
    assert!(status.data()[0]["read_at"].is_string());
    assert_eq!(status.data()[1]["user_id"], "carol");
    assert!(status.data()[1]["delivered_at"].is_null());

    app.get(&format!("/api/v1/messages/{id2}/status"), "bob")
        .await
        .expect_error(403, "FORBIDDEN");
    app.post(&format!("/api/v1/messages/{id1}/read"), "alice", json!({}))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.post(&format!("/api/v1/messages/{id1}/read"), "dave", json!({}))
        .await
        .expect_error(403, "FORBIDDEN");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM message_status")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 2, "only bob's two marks were stored");
}

async fn local_id(pool: &PgPool, tms_user_id: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE tms_user_id = $1")
        .bind(tms_user_id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Group commit of receipts: one batch marks several readers and messages,
/// moves each reader's read mark to the highest message read, and a receipt
/// the database refuses (its message does not exist) fails alone.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_batch_of_receipts_commits_together_and_a_bad_one_fails_alone(pool: PgPool) {
    use core_api::receipt_queue::mark_batch;
    use core_api::repositories::receipts::NewReceipt;

    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let conv: uuid::Uuid = g.parse().unwrap();
    let mut msgs = Vec::new();
    for i in 0..3 {
        let m = app.send("alice", &g, &format!("m{i}")).await;
        msgs.push((
            m["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap(),
            m["seq"].as_i64().unwrap(),
        ));
    }
    let bob = local_id(&app.pool, "bob").await;
    let carol = local_id(&app.pool, "carol").await;
    let r = |user, (id, seq): (uuid::Uuid, i64), read| NewReceipt {
        conversation_id: conv,
        message_id: id,
        user_id: user,
        read,
        seq,
    };
    let batch = vec![
        r(bob, msgs[0], false),
        r(bob, msgs[2], true),
        r(carol, (uuid::Uuid::new_v4(), 9), true), // no such message
        r(carol, msgs[1], true),
        r(bob, msgs[0], true), // a repeat of the first: runs after the batch
    ];
    let answers = mark_batch(&app.pool, batch).await;
    assert_eq!(answers.len(), 5);
    let (d0, r0) = answers[0].as_ref().expect("bob's delivery");
    assert!(d0.is_some() && r0.is_none());
    assert!(answers[1].as_ref().unwrap().1.is_some(), "bob read m2");
    assert_eq!(
        answers[2].as_ref().unwrap_err().code(),
        shared_types::ErrorCode::Unprocessable
    );
    assert!(answers[3].as_ref().unwrap().1.is_some(), "carol read m1");
    let (d4, r4) = answers[4].as_ref().expect("bob read m0 later");
    assert_eq!(d4, d0, "the first delivery time is kept");
    assert!(r4.is_some());

    let rows: Vec<(uuid::Uuid, bool)> = sqlx::query_as(
        "SELECT user_id, read_at IS NOT NULL FROM message_status ORDER BY user_id, message_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3, "bob's two marks and carol's one: {rows:?}");
    let marks: Vec<(String, i64)> = sqlx::query_as(
        "SELECT u.tms_user_id, cm.last_read_seq FROM conversation_members cm
           JOIN users u ON u.id = cm.user_id WHERE cm.conversation_id = $1 ORDER BY 1",
    )
    .bind(conv)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        marks,
        vec![("alice".into(), 3), ("bob".into(), 3), ("carol".into(), 2)]
    );
}

/// Through the API, concurrently: every receipt answered 200 after its
/// commit, each stored once, read marks at the newest message read.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn concurrent_receipts_are_all_answered_and_stored(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::spawn(pool).await);
    let readers = ["bob", "carol", "dave", "erin"];
    let g = app.conversation("alice", "group", &readers).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let m = app.send("alice", &g, &format!("m{i}")).await;
        ids.push(m["id"].as_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for user in readers {
            let (app, id) = (app.clone(), id.clone());
            let kind = if n % 2 == 0 { "read" } else { "delivered" };
            tasks.push(tokio::spawn(async move {
                let r = app
                    .post(&format!("/api/v1/messages/{id}/{kind}"), user, json!({}))
                    .await;
                r.expect(200);
                assert_eq!(r.data()["message_id"], id.as_str());
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (rows, reads): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(read_at) FROM message_status")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((rows, reads), (40, 20));
    let marks: Vec<i64> = sqlx::query_scalar(
        "SELECT cm.last_read_seq FROM conversation_members cm JOIN users u ON u.id = cm.user_id
          WHERE u.tms_user_id <> 'alice' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        marks,
        vec![9, 9, 9, 9],
        "the newest read message is the 9th"
    );
}
