//! Core → edge: after commit, core pushes message events to `EDGE_FANOUT_URL`,
//! signed with the internal HMAC. A small receiver stands in for the edge.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::{TestApp, INTERNAL_SECRET};
use reqwest::Method;
use serde_json::{json, Value};
use shared_auth::internal_sig;
use shared_types::internal::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER};
use sqlx::PgPool;

type Received = Arc<Mutex<Vec<Value>>>;

/// Accepts only correctly signed pushes, like the edge does.
async fn edge_stand_in() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/internal/v1/fanout",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let now = chrono::Utc::now().timestamp() as u64;
                let verdict = internal_sig::verify(
                    INTERNAL_SECRET.as_bytes(),
                    "POST",
                    "/internal/v1/fanout",
                    &h(HEADER_TIMESTAMP),
                    &h(HEADER_NONCE),
                    &h(HEADER_USER),
                    &body,
                    &h(HEADER_SIGNATURE),
                    now,
                    internal_sig::MAX_SKEW_SECS,
                );
                if verdict.is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/internal/v1/fanout",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// The app, pushing its events to a fresh edge stand-in.
async fn spawn_with_edge(pool: PgPool) -> (TestApp, Received) {
    let (url, received) = edge_stand_in().await;
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("EDGE_FANOUT_URL".into(), url);
    })
    .await;
    (app, received)
}

async fn wait_for(received: &Received, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let got = received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    received.lock().unwrap().clone()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn message_events_are_pushed_signed_after_commit(pool: PgPool) {
    let (app, received) = spawn_with_edge(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let sent = app.send("alice", &dm, "pushed").await;
    let id = sent["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/api/v1/messages/{id}"),
        "alice",
        Some(json!({"content": "edited"})),
    )
    .await
    .expect(200);

    let events = wait_for(&received, 3).await;
    let for_room: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"]["kind"] == "conversation")
        .collect();
    assert_eq!(
        for_room.len(),
        2,
        "new_message and message_updated: {events:?}"
    );
    let new_message = for_room
        .iter()
        .find(|e| e["event"] == "new_message")
        .expect("new_message pushed");
    assert_eq!(new_message["namespace"], "/messaging");
    assert_eq!(new_message["target"]["conversation_id"], dm.as_str());
    assert_eq!(
        new_message["seq"], 1,
        "new messages carry the room's order key"
    );
    assert_eq!(new_message["data"]["id"], id.as_str());
    assert_eq!(new_message["data"]["content"], "pushed");
    let updated = for_room
        .iter()
        .find(|e| e["event"] == "message_updated")
        .expect("message_updated pushed");
    assert!(
        updated["seq"].is_null(),
        "an edit is not a new position in the room"
    );
    assert_eq!(updated["data"]["content"], "edited");
    // creating the DM told both members on /notifications
    let notified = events
        .iter()
        .find(|e| e["event"] == "conversation_updated")
        .expect("conversation_updated");
    assert_eq!(notified["namespace"], "/notifications");
    assert_eq!(notified["target"]["user_ids"], json!(["alice", "bob"]));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn member_added_names_only_the_users_actually_added(pool: PgPool) {
    let (app, received) = spawn_with_edge(pool).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["bob", "carol"]}),
    )
    .await
    .expect(200);
    let events = wait_for(&received, 2).await;
    let added = events
        .iter()
        .find(|e| e["event"] == "member_added")
        .expect("member_added pushed");
    assert_eq!(
        added["data"]["user_ids"],
        json!(["carol"]),
        "bob was already in"
    );
    assert_eq!(
        added["target"]["user_ids"],
        json!(["alice", "bob", "carol"])
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_repeated_delete_is_answered_but_announced_once(pool: PgPool) {
    let (app, received) = spawn_with_edge(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let sent = app.send("alice", &dm, "oops").await;
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    let first = app.call(Method::DELETE, &path, "alice", None).await;
    first.expect(200);
    let again = app.call(Method::DELETE, &path, "alice", None).await;
    again.expect(200);
    assert_eq!(again.data()["deleted_at"], first.data()["deleted_at"]);
    // conversation_updated, new_message, message_deleted; then give a repeat time to show
    wait_for(&received, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deletes = received
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "message_deleted")
        .count();
    assert_eq!(deletes, 1);
}
