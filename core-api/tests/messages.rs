mod common;

use std::collections::BTreeSet;

use common::TestApp;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn send_returns_the_stored_message(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let r = app
        .post("/api/v1/messages", "alice", json!({"conversation_id": dm, "type": "text", "content": "hello bob", "client_msg_id": "c-1"}))
        .await;
    r.expect(201);
    let m = r.data();
    for field in [
        "id",
        "conversation_id",
        "seq",
        "sender_id",
        "type",
        "content",
        "client_msg_id",
        "reply_to_id",
        "created_at",
        "edited_at",
        "deleted_at",
    ] {
        assert!(m.get(field).is_some(), "field {field} missing in {m}");
    }
    assert_eq!(m["seq"], 1);
    assert_eq!(m["sender_id"], "alice");
    assert_eq!(m["type"], "text");
    assert_eq!(m["content"], "hello bob");
    let row: (i64, String, Option<String>) = sqlx::query_as(
        "SELECT m.seq, m.content, u.tms_user_id FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1::uuid",
    )
    .bind(m["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .map(|(seq, content, sender): (i64, String, String)| (seq, content, Some(sender)))
    .unwrap();
    assert_eq!(row, (1, "hello bob".into(), Some("alice".into())));

    let single = app
        .get(
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
            "bob",
        )
        .await;
    single.expect(200);
    assert_eq!(single.data(), m);

    let reply = app
        .post(
            "/api/v1/messages",
            "bob",
            json!({"conversation_id": dm, "content": "hi!", "reply_to_id": m["id"]}),
        )
        .await;
    reply.expect(201);
    assert_eq!(reply.data()["reply_to_id"], m["id"]);
    assert_eq!(reply.data()["seq"], 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn retried_client_msg_id_returns_the_original(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::spawn(pool).await);
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let body = json!({"conversation_id": dm, "type": "text", "content": "once", "client_msg_id": "retry-me"});
    let first = app.post("/api/v1/messages", "alice", body.clone()).await;
    first.expect(201);
    let second = app.post("/api/v1/messages", "alice", body.clone()).await;
    second.expect(200);
    assert_eq!(second.data(), first.data());

    // concurrent retries: still one row, every answer the same message
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, body) = (app.clone(), body.clone());
            tokio::spawn(async move { app.post("/api/v1/messages", "alice", body).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        r.expect(200);
        assert_eq!(r.data()["id"], first.data()["id"]);
    }
    // concurrent first sends of a new client id: one 201, the rest 200, one row
    let race = json!({"conversation_id": dm, "type": "text", "content": "race", "client_msg_id": "race-1"});
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, body) = (app.clone(), race.clone());
            tokio::spawn(async move { app.post("/api/v1/messages", "alice", body).await })
        })
        .collect();
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.status == 201 || r.status == 200, "{}", r.body);
        created += usize::from(r.status == 201);
        ids.insert(r.data()["id"].as_str().unwrap().to_string());
    }
    assert_eq!((created, ids.len()), (1, 1));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(last_seq, 2, "no seq was burnt by retries");

    // a client id is the sender's per conversation (the key is
    // (conversation_id, sender_id, client_msg_id)): in another conversation
    // it names another message
    let g = app.conversation("alice", "group", &["bob"]).await;
    let other = json!({"conversation_id": g, "type": "text", "content": "once", "client_msg_id": "retry-me"});
    let r = app.post("/api/v1/messages", "alice", other.clone()).await;
    r.expect(201);
    assert_eq!(r.data()["conversation_id"], g.as_str());
    let again = app.post("/api/v1/messages", "alice", other).await;
    again.expect(200);
    assert_eq!(again.data()["id"], r.data()["id"]);
    // another sender may use the same client id
    app.post("/api/v1/messages", "bob", body).await.expect(201);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn concurrent_sends_get_gap_free_seq(pool: PgPool) {
    let app = std::sync::Arc::new(TestApp::spawn(pool).await);
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let app = app.clone();
        let g = g.clone();
        let user = ["alice", "bob", "carol"][i % 3];
        tasks.push(tokio::spawn(async move {
            let m = app.send(user, &g, &format!("m{i}")).await;
            m["seq"].as_i64().unwrap()
        }));
    }
    let mut seqs = BTreeSet::new();
    for t in tasks {
        assert!(seqs.insert(t.await.unwrap()), "duplicate seq");
    }
    assert_eq!(seqs, (1..=30).collect::<BTreeSet<i64>>());
    let db: Vec<i64> = sqlx::query_scalar("SELECT seq FROM messages ORDER BY seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(db, (1..=30).collect::<Vec<i64>>());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn list_pages_newest_first_and_catch_up_ascending(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    for i in 1..=7 {
        app.send(
            if i % 2 == 0 { "bob" } else { "alice" },
            &dm,
            &format!("m{i}"),
        )
        .await;
    }
    let path = format!("/api/v1/conversations/{dm}/messages");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=3&cursor={c}"),
            None => format!("{path}?limit=3"),
        };
        let r = app.get(&url, "bob").await;
        r.expect(200);
        seen.extend(
            r.data()
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["seq"].as_i64().unwrap()),
        );
        if r.body["pagination"]["has_more"] != true {
            assert!(r.body["pagination"]["next_cursor"].is_null());
            break;
        }
        cursor = Some(
            r.body["pagination"]["next_cursor"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);

    let catch_up = app.get(&format!("{path}?after_seq=4"), "alice").await;
    catch_up.expect(200);
    let seqs: Vec<i64> = catch_up
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![5, 6, 7]);
    assert_eq!(catch_up.body["pagination"]["has_more"], false);

    // catch-up in pages continues from the cursor without gaps or repeats
    let p1 = app
        .get(&format!("{path}?after_seq=0&limit=4"), "alice")
        .await;
    let c = p1.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let p2 = app
        .get(&format!("{path}?after_seq=0&limit=4&cursor={c}"), "alice")
        .await;
    let all: Vec<i64> = [p1.data(), p2.data()]
        .iter()
        .flat_map(|d| {
            d.as_array()
                .unwrap()
                .iter()
                .map(|m| m["seq"].as_i64().unwrap())
        })
        .collect();
    assert_eq!(all, (1..=7).collect::<Vec<i64>>());
    app.get(&format!("{path}?after_seq=-1"), "alice")
        .await
        .expect_error(422, "VALIDATION_ERROR");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_messages_are_rejected_and_not_stored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let other = app.conversation("alice", "direct", &["carol"]).await;
    let foreign = app.send("alice", &other, "elsewhere").await;
    let cases = [
        (
            json!({"conversation_id": dm, "type": "text", "content": "   "}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "text"}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "text", "content": "x".repeat(4001)}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "image", "content": "no attachment"}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "system", "content": "spoof"}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "text", "content": "x", "client_msg_id": ""}),
            422,
            "VALIDATION_ERROR",
        ),
        // the edge's rule too (one `ValidSend`): a blank id is no id
        (
            json!({"conversation_id": dm, "type": "text", "content": "x", "client_msg_id": "   "}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": dm, "type": "text", "content": "x", "reply_to_id": foreign["id"]}),
            422,
            "UNPROCESSABLE",
        ),
        (
            json!({"conversation_id": dm, "type": "gif", "content": "x"}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": "nope", "content": "x"}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"conversation_id": uuid::Uuid::new_v4(), "content": "x"}),
            404,
            "NOT_FOUND",
        ),
    ];
    for (body, status, code) in cases {
        let r = app.post("/api/v1/messages", "alice", body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{body}: {}",
            r.body
        );
        r.expect(status);
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE conversation_id = $1::uuid")
            .bind(&dm)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(count, 0);
    // an attachment must name an object issued to the sender (tests/files.rs)
    let with_attachment = json!({"conversation_id": dm, "type": "image", "attachment": {"object_key": "u/alice/cat.png", "content_type": "image/png", "size_bytes": 1024, "width": 10, "height": 10}});
    let r = app.post("/api/v1/messages", "alice", with_attachment).await;
    r.expect_error(403, "FORBIDDEN");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn edit_and_delete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let g = app.conversation("alice", "group", &["bob", "carol"]).await;
    let m = app.send("bob", &g, "tpyo").await;
    let path = format!("/api/v1/messages/{}", m["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        "carol",
        Some(json!({"content": "hijack"})),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    let edited = app
        .call(
            Method::PATCH,
            &path,
            "bob",
            Some(json!({"content": "typo"})),
        )
        .await;
    edited.expect(200);
    assert_eq!(edited.data()["content"], "typo");
    assert!(edited.data()["edited_at"].is_string());
    app.call(Method::DELETE, &path, "carol", None)
        .await
        .expect_error(403, "FORBIDDEN");
    // the group owner may delete anyone's message
    let deleted = app.call(Method::DELETE, &path, "alice", None).await;
    deleted.expect(200);
    assert!(deleted.data()["content"].is_null());
    assert!(deleted.data()["deleted_at"].is_string());
    app.call(
        Method::PATCH,
        &path,
        "bob",
        Some(json!({"content": "again"})),
    )
    .await
    .expect_error(409, "CONFLICT");
    let tombstone = app
        .get(
            &format!("/api/v1/conversations/{g}/messages?after_seq=0"),
            "carol",
        )
        .await;
    assert_eq!(tombstone.data()[0]["id"], m["id"]);
    assert!(tombstone.data()[0]["content"].is_null());
}

/// A kind this build does not know is an error, never shown as text.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_unknown_kind_in_the_database_is_an_error(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let m = app.send("alice", &dm, "hello").await;
    let id = m["id"].as_str().unwrap();
    // a row written by a newer version, with a kind added later
    sqlx::query("ALTER TABLE messages DROP CONSTRAINT messages_kind_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE messages SET kind = 'sticker' WHERE id = $1::uuid")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    app.get(&format!("/api/v1/messages/{id}"), "bob")
        .await
        .expect_error(500, "INTERNAL_ERROR");
}

/// `client_msg_id` is optional: without it a send is stored every time.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_send_without_client_msg_id_is_accepted_and_not_idempotent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let body = json!({"conversation_id": dm, "type": "text", "content": "twice"});
    let first = app.post("/api/v1/messages", "alice", body.clone()).await;
    first.expect(201);
    assert!(first.data()["client_msg_id"].is_null());
    app.post("/api/v1/messages", "alice", body)
        .await
        .expect(201);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE content = 'twice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 2);
}
