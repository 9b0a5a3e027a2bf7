mod common;

use common::TestApp;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn send(app: &TestApp, user: &str, conversation: &str, body: Value) -> common::Reply {
    let mut body = body;
    body["conversation_id"] = conversation.into();
    body["type"] = "text".into();
    app.post("/api/v1/messages", user, body).await
}

fn summary<'a>(list: &'a common::Reply, id: &str) -> &'a Value {
    list.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .expect("listed")
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn mentions_keep_members_only_and_count_unread(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let team = app.conversation("alice", "group", &["bob", "carol"]).await;
    let r = send(
        &app,
        "alice",
        &team,
        json!({"content": "hey @bob @dave", "mentions": ["bob", "dave", "bob", "alice"]}),
    )
    .await;
    r.expect(201);
    // dave is no member, alice is the sender, bob once
    assert_eq!(r.data()["mentions"], json!(["bob"]));
    assert_eq!(r.data()["mentions_all"], false);
    let stored: (Vec<String>, bool) =
        sqlx::query_as("SELECT mentions, mentions_all FROM messages WHERE id = $1::uuid")
            .bind(r.data()["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, (vec!["bob".to_string()], false));
    let got = app
        .get(
            &format!("/api/v1/messages/{}", r.data()["id"].as_str().unwrap()),
            "carol",
        )
        .await;
    assert_eq!(got.data()["mentions"], json!(["bob"]));

    // the owner may mention everyone
    send(
        &app,
        "alice",
        &team,
        json!({"content": "all hands", "mentions_all": true}),
    )
    .await
    .expect(201);
    send(&app, "alice", &team, json!({"content": "no mention"}))
        .await
        .expect(201);

    let list = app.get("/api/v1/conversations", "bob").await;
    list.expect(200);
    let bob = summary(&list, &team);
    assert_eq!(bob["unread_count"], 3);
    assert_eq!(bob["unread_mention_count"], 2);
    let list = app.get("/api/v1/conversations", "carol").await;
    assert_eq!(summary(&list, &team)["unread_mention_count"], 1);
    // the sender's own messages are never unread
    let list = app.get("/api/v1/conversations", "alice").await;
    assert_eq!(summary(&list, &team)["unread_mention_count"], 0);

    // reading moves the mark: nothing unread is left
    let last = app.send("carol", &team, "reply").await;
    app.post(
        &format!("/api/v1/messages/{}/read", last["id"].as_str().unwrap()),
        "bob",
        json!({}),
    )
    .await
    .expect(200);
    let list = app.get("/api/v1/conversations", "bob").await;
    assert_eq!(summary(&list, &team)["unread_mention_count"], 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn everyone_is_for_group_admins_and_bad_mentions_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let team = app.conversation("alice", "group", &["bob"]).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    send(
        &app,
        "bob",
        &team,
        json!({"content": "x", "mentions_all": true}),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    send(
        &app,
        "alice",
        &dm,
        json!({"content": "x", "mentions_all": true}),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    // an admin may
    app.set_role(&team, "alice", "bob", "admin")
        .await
        .expect(200);
    send(
        &app,
        "bob",
        &team,
        json!({"content": "x", "mentions_all": true}),
    )
    .await
    .expect(201);
    let too_many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    for bad in [
        json!(too_many),
        json!([""]),
        json!([" bob"]),
        json!("bob"),
        json!([1]),
    ] {
        send(
            &app,
            "alice",
            &team,
            json!({"content": "x", "mentions": bad}),
        )
        .await
        .expect_error(422, "VALIDATION_ERROR");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "only the admin's send was stored");
}
