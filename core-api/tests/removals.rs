//! Removed means removed: every removal raises the conversation's removal
//! epoch in the removal's own statement; room events carry it to the edge,
//! and a gateway asks `members/check` before it writes an event to a socket
//! verified at an older epoch (the gateway's side is tested natively in
//! `edge-worker` and end to end in `tests/e2e/security.test.mjs`).

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

fn room_event(pushed: &[Value], pred: impl Fn(&Value) -> bool) -> &Value {
    pushed
        .iter()
        .find(|e| e["target"]["kind"] == "conversation" && pred(e))
        .unwrap_or_else(|| panic!("no such room event in {pushed:?}"))
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn every_room_event_carries_the_removal_epoch_and_a_removal_raises_it(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool.clone(), |_| {}).await;
    let group = app
        .conversation("alice", "group", &["bob", "carol", "dave"])
        .await;
    app.report("DFW.0", &["alice", "bob", "carol"], &[]).await;
    let first = app.send("alice", &group, "before").await;
    let pushed = edge.wait_for("new_message", 1).await;
    let before = room_event(&pushed, |e| e["data"]["id"] == first["id"]);
    assert_eq!(before["removal_epoch"], 0);

    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let evictions = edge.wait_for("member_removed", 2).await;
    let eviction = room_event(&evictions, |e| e["evict_user_id"] == "bob");
    assert_eq!(eviction["removal_epoch"], 1, "the epoch this removal made");
    // the removal's system line was written before it: bob still hears it
    let removed_line = |e: &Value| e["data"]["system"]["event"] == "member_removed";
    let pushed = edge.wait_for_where("new_message", removed_line).await;
    let line = room_event(&pushed, removed_line);
    assert_eq!(line["removal_epoch"], 0);

    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/carol"),
        "carol",
        None,
    )
    .await
    .expect(200);
    let after = app.send("alice", &group, "after").await;
    let is_after = |e: &Value| e["data"]["id"] == after["id"];
    let pushed = edge.wait_for_where("new_message", is_after).await;
    let e = room_event(&pushed, is_after);
    assert_eq!(e["removal_epoch"], 2, "leaving raises it too");
    let stored: i64 = sqlx::query_scalar("SELECT removal_epoch FROM conversations WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&group).unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 2);

    // an edit is stamped by its lane with the epoch of its sending
    let path = format!("/api/v1/messages/{}", first["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        "alice",
        Some(json!({"content": "edited"})),
    )
    .await
    .expect(200);
    let edits = edge.wait_for("message_updated", 1).await;
    assert_eq!(room_event(&edits, |_| true)["removal_epoch"], 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_gateway_learns_who_is_still_a_member_and_at_which_epoch(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let join = app
        .internal(
            Method::GET,
            &format!("/internal/v1/conversations/{group}/membership"),
            "bob",
            &Value::Null,
        )
        .await;
    join.expect(200);
    assert_eq!(join.data()["is_member"], true);
    assert_eq!(join.data()["removal_epoch"], 0);

    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let check = format!("/internal/v1/conversations/{group}/members/check");
    let r = app
        .internal(
            Method::POST,
            &check,
            "",
            &json!({"user_ids": ["bob", "carol", "mallory"]}),
        )
        .await;
    r.expect(200);
    assert_eq!(r.data()["members"], json!(["carol"]));
    assert_eq!(r.data()["removal_epoch"], 1);

    // bad input and callers are refused in the envelope
    app.internal(Method::POST, &check, "", &json!({"user_ids": []}))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let too_many: Vec<String> = (0..2_001).map(|i| format!("u{i}")).collect();
    app.internal(Method::POST, &check, "", &json!({ "user_ids": too_many }))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.internal(Method::POST, &check, "", &json!({"users": ["carol"]}))
        .await
        .expect(422);
    app.internal(
        Method::POST,
        &check,
        "carol",
        &json!({"user_ids": ["carol"]}),
    )
    .await
    .expect_error(401, "INTERNAL_AUTH_FAILED");
    let unknown = uuid::Uuid::new_v4();
    app.internal(
        Method::POST,
        &format!("/internal/v1/conversations/{unknown}/members/check"),
        "",
        &json!({"user_ids": ["carol"]}),
    )
    .await
    .expect_error(404, "NOT_FOUND");
}
