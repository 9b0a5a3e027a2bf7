//! System messages (member added, removed, left, title changed, call missed,
//! call ended) and the per-user call log.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::TestApp;
use core_api::clock::ManualClock;
use core_api::services::calls::sweeper;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn messages(app: &TestApp, user: &str, conversation: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/conversations/{conversation}/messages?after_seq=0"),
            user,
        )
        .await;
    r.expect(200);
    r.data().as_array().unwrap().clone()
}

async fn unread(app: &TestApp, user: &str, conversation: &str) -> i64 {
    let r = app.get("/api/v1/conversations", user).await;
    r.expect(200);
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conversation)
        .map(|c| c["unread_count"].as_i64().unwrap())
        .unwrap()
}

fn systems(list: &[Value]) -> Vec<Value> {
    list.iter()
        .filter(|m| m["type"] == "system")
        .map(|m| m["system"].clone())
        .collect()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn group_changes_leave_system_lines_unread_for_all_but_their_author(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.report("DFW.0", &["alice", "bob", "carol", "dave"], &[])
        .await;
    let base = format!("/api/v1/conversations/{group}");
    app.post(
        &format!("{base}/members"),
        "alice",
        json!({"member_ids": ["carol", "dave"]}),
    )
    .await
    .expect(200);
    app.call(
        Method::PATCH,
        &base,
        "alice",
        Some(json!({"title": "Launch"})),
    )
    .await
    .expect(200);
    app.call(
        Method::DELETE,
        &format!("{base}/members/dave"),
        "alice",
        None,
    )
    .await
    .expect(200);
    app.post(&format!("{base}/leave"), "bob", json!({}))
        .await
        .expect(200);

    let list = messages(&app, "carol", &group).await;
    assert_eq!(
        systems(&list),
        vec![
            json!({"event": "member_added", "actor_id": "alice", "user_ids": ["carol", "dave"]}),
            json!({"event": "title_changed", "actor_id": "alice", "title": "Launch", "old_title": "Team"}),
            json!({"event": "member_removed", "actor_id": "alice", "user_id": "dave"}),
            json!({"event": "member_left", "actor_id": "bob"}),
        ]
    );
    let senders: Vec<&str> = list
        .iter()
        .map(|m| m["sender_id"].as_str().unwrap())
        .collect();
    assert_eq!(senders, ["alice", "alice", "alice", "bob"]);
    assert_eq!(list[0]["content"], "alice added carol, dave");
    assert_eq!(list[3]["content"], "bob left");
    let seqs: Vec<i64> = list.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    // never unread for the one who caused them; unread for the others
    assert_eq!(unread(&app, "alice", &group).await, 1, "bob's line only");
    assert_eq!(unread(&app, "carol", &group).await, 4);
    // delivered like any message
    let pushed = edge.wait_for("new_message", 4).await;
    let pushed: Vec<&Value> = pushed
        .iter()
        .filter(|e| e["namespace"] == "/messaging")
        .collect();
    assert_eq!(pushed.len(), 4, "{pushed:?}");
    assert_eq!(pushed[3]["data"]["system"]["event"], "member_left");
    assert_eq!(pushed[3]["seq"], 4);
    // renaming to the same title records nothing
    app.call(
        Method::PATCH,
        &base,
        "alice",
        Some(json!({"title": "Launch"})),
    )
    .await
    .expect(200);
    assert_eq!(messages(&app, "carol", &group).await.len(), 4);
    // and nobody can send one
    app.post(
        "/api/v1/messages",
        "alice",
        json!({"conversation_id": group, "type": "system", "content": "{}"}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
}

fn quiet_sweeper(v: &mut HashMap<String, String>) {
    v.insert("CALL_SWEEP_INTERVAL_MS".into(), "60000".into());
}

async fn ring(app: &TestApp, conversation: &str, user: &str, media: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/conversations/{conversation}/calls"),
            user,
            json!({ "type": media }),
        )
        .await;
    r.expect(201);
    r.data().clone()
}

async fn act(app: &TestApp, call: &Value, user: &str, action: &str) {
    let id = call["id"].as_str().unwrap();
    app.post(&format!("/api/v1/calls/{id}/{action}"), user, json!({}))
        .await
        .expect(200);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn calls_leave_a_missed_or_ended_line_and_a_per_user_log(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let app = TestApp::spawn_full(pool, quiet_sweeper, Arc::new(clock.clone())).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let other = app.conversation("carol", "direct", &["bob"]).await;

    // rings out: missed
    let missed = ring(&app, &dm, "alice", "voice").await;
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(sweeper::sweep(&app.state).await.unwrap(), 1);
    // answered, 125 s, ended
    let talked = ring(&app, &dm, "alice", "video").await;
    clock.advance(chrono::Duration::seconds(2));
    act(&app, &talked, "bob", "accept").await;
    clock.advance(chrono::Duration::seconds(125));
    act(&app, &talked, "bob", "end").await;
    // rejected: missed too
    let rejected = ring(&app, &other, "carol", "voice").await;
    act(&app, &rejected, "bob", "reject").await;

    let lines = systems(&messages(&app, "bob", &dm).await);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        json!({"event": "call_missed", "actor_id": "alice", "call_id": missed["id"], "media": "voice"})
    );
    assert_eq!(lines[1]["event"], "call_ended");
    assert_eq!(lines[1]["call_id"], talked["id"]);
    assert_eq!(lines[1]["duration_secs"], 125);
    assert_eq!(lines[1]["media"], "video");
    let list = messages(&app, "bob", &dm).await;
    assert_eq!(list[0]["content"], "Missed voice call");
    assert_eq!(list[1]["content"], "Video call, 2:05");
    assert!(list.iter().all(|m| m["sender_id"] == "alice"));
    assert_eq!(unread(&app, "bob", &dm).await, 2);
    assert_eq!(unread(&app, "alice", &dm).await, 0);
    assert_eq!(
        systems(&messages(&app, "bob", &other).await)[0]["event"],
        "call_missed"
    );

    // bob's log: every call of his, newest first, in pages
    let r = app.get("/api/v1/calls?limit=2", "bob").await;
    r.expect(200);
    let page: Vec<&Value> = r.data().as_array().unwrap().iter().collect();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], rejected["id"]);
    assert_eq!(page[0]["status"], "rejected");
    assert_eq!(page[1]["id"], talked["id"]);
    assert_eq!(page[1]["duration_secs"], 125);
    for field in [
        "conversation_id",
        "type",
        "status",
        "initiator_id",
        "started_at",
        "answered_at",
        "ended_at",
        "end_reason",
        "duration_secs",
        "participants",
    ] {
        assert!(page[1].get(field).is_some(), "{field} missing");
    }
    assert_eq!(r.body["pagination"]["has_more"], true);
    let cursor = r.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .get(&format!("/api/v1/calls?limit=2&cursor={cursor}"), "bob")
        .await;
    r.expect(200);
    let ids: Vec<&Value> = r
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&missed["id"]]);
    assert_eq!(r.body["pagination"]["has_more"], false);
    // alice's log has only her calls; dave has none
    let r = app.get("/api/v1/calls", "alice").await;
    r.expect(200);
    assert_eq!(r.data().as_array().unwrap().len(), 2);
    let r = app.get("/api/v1/calls", "dave").await;
    r.expect(200);
    assert_eq!(r.data(), &json!([]));
    // bad input
    app.get("/api/v1/calls?cursor=nope", "bob")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.get("/api/v1/calls?limit=0", "bob")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.raw(Method::GET, "/api/v1/calls", None, None)
        .await
        .expect(401);
}
