//! Non-members, bad input, wrong users and busy callees: clear errors, nothing stored.

use super::*;

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn non_members_can_neither_ring_nor_see_nor_act(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["alice", "bob", "dave"], &[]).await;

    start(&app, &dm, "dave", "voice")
        .await
        .expect_error(403, "FORBIDDEN");
    let nowhere = uuid::Uuid::new_v4();
    start(&app, &nowhere.to_string(), "alice", "voice")
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(count(&app, "calls").await, 0, "nothing stored");

    let call = ring(&app, &dm, "alice").await;
    let id = call["id"].as_str().unwrap();
    app.get(&format!("/api/v1/calls/{id}"), "dave")
        .await
        .expect_error(403, "FORBIDDEN");
    app.get(&format!("/api/v1/conversations/{dm}/calls"), "dave")
        .await
        .expect_error(403, "FORBIDDEN");
    for action in ["accept", "reject", "leave", "end"] {
        act(&app, &call, "dave", action)
            .await
            .expect_error(403, "FORBIDDEN");
    }
    signal(
        &app,
        &call,
        "dave",
        json!({"to_user_id": "bob", "kind": "offer", "payload": {}}),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    // a call that does not exist
    let ghost = json!({ "id": uuid::Uuid::new_v4() });
    act(&app, &ghost, "alice", "accept")
        .await
        .expect_error(404, "NOT_FOUND");
    app.get(
        &format!("/api/v1/calls/{}", ghost["id"].as_str().unwrap()),
        "alice",
    )
    .await
    .expect_error(404, "NOT_FOUND");

    // the call is untouched and dave heard nothing of it
    let got = app.get(&format!("/api/v1/calls/{id}"), "bob").await;
    assert_eq!(got.data(), &call);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let to_dave = edge
        .events()
        .into_iter()
        .filter(|e| e["event"].as_str().unwrap().starts_with("call_"))
        .filter(|e| recipients(e).contains(&"dave".to_string()))
        .count();
    assert_eq!(to_dave, 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_input_gets_a_clear_error_and_stores_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let path = format!("/api/v1/conversations/{dm}/calls");
    for body in [json!({"type": "fax"}), json!({}), json!({"type": "VOICE"})] {
        app.post(&path, "alice", body)
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    let token = app.token("alice");
    let raw = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"type\":")
        .send()
        .await
        .unwrap();
    TestApp::read(raw).await.expect_error(400, "INVALID_JSON");
    app.post(
        "/api/v1/conversations/not-a-uuid/calls",
        "alice",
        json!({"type": "voice"}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    app.get("/api/v1/calls/not-a-uuid", "alice")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    // a group too large to ring at once
    let many: Vec<String> = (1..=64).map(|i| format!("load-{i:03}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let big = app.conversation("alice", "group", &many).await;
    start(&app, &big, "alice", "voice")
        .await
        .expect_error(422, "UNPROCESSABLE");
    assert_eq!(count(&app, "calls").await, 0);

    let call = ring(&app, &dm, "alice").await;
    act(&app, &call, "bob", "dance")
        .await
        .expect_error(404, "NOT_FOUND");
    // signals: a bad kind, to oneself, to a stranger, without payload, too large
    let cases = [
        (
            json!({"to_user_id": "bob", "kind": "bye", "payload": {}}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"to_user_id": "alice", "kind": "ice", "payload": {}}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"to_user_id": " bob", "kind": "ice", "payload": {}}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"to_user_id": "bob", "kind": "ice", "payload": null}),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"to_user_id": "zed", "kind": "ice", "payload": {}}),
            422,
            "UNPROCESSABLE",
        ),
        (
            json!({"to_user_id": "bob", "kind": "offer", "payload": {"sdp": "x".repeat(16 * 1024)}}),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (body, status, code) in cases {
        signal(&app, &call, "alice", body.clone())
            .await
            .expect_error(status, code);
    }
    // a signal call without the edge's signature is refused
    let id = call["id"].as_str().unwrap();
    let unsigned = app
        .raw(
            Method::POST,
            &format!("/internal/v1/calls/{id}/signal"),
            Some(&token),
            Some(&json!({"to_user_id": "bob", "kind": "ice", "payload": {}})),
        )
        .await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn acts_of_the_wrong_user_or_out_of_turn_are_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, quiet_sweeper).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    let call = ring(&app, &group, "alice").await;
    // carol joins the group after the call started: she is not in it
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["carol"]}),
    )
    .await
    .expect(200);
    act(&app, &call, "carol", "accept")
        .await
        .expect_error(403, "FORBIDDEN");
    signal(
        &app,
        &call,
        "carol",
        json!({"to_user_id": "alice", "kind": "offer", "payload": {}}),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    signal(
        &app,
        &call,
        "alice",
        json!({"to_user_id": "carol", "kind": "offer", "payload": {}}),
    )
    .await
    .expect_error(422, "UNPROCESSABLE");
    // she still sees it in the conversation's history, as members do
    app.get(&format!("/api/v1/conversations/{group}/calls"), "carol")
        .await
        .expect(200);

    act(&app, &call, "alice", "reject")
        .await
        .expect_error(409, "CONFLICT");
    act(&app, &call, "bob", "end")
        .await
        .expect_error(409, "CONFLICT");
    act(&app, &call, "bob", "leave")
        .await
        .expect_error(409, "CONFLICT");
    let first = act(&app, &call, "bob", "accept").await;
    first.expect(200);
    let again = act(&app, &call, "bob", "accept").await;
    again.expect(200);
    assert_eq!(
        again.data(),
        first.data(),
        "a second accept changes nothing"
    );
    act(&app, &call, "bob", "reject")
        .await
        .expect_error(409, "CONFLICT");
    act(&app, &call, "alice", "end").await.expect(200);
    act(&app, &call, "bob", "accept")
        .await
        .expect_error(409, "CONFLICT");
    signal(
        &app,
        &call,
        "alice",
        json!({"to_user_id": "bob", "kind": "ice", "payload": {}}),
    )
    .await
    .expect_error(409, "CONFLICT");
    let stored: String = sqlx::query_scalar("SELECT status FROM calls")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, "completed");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_callee_in_another_call_is_busy(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    app.report("AMS.1", &["alice", "bob", "carol", "dave"], &[])
        .await;
    let alice_bob = app.conversation("alice", "direct", &["bob"]).await;
    let carol_bob = app.conversation("carol", "direct", &["bob"]).await;
    let carol_alice = app.conversation("carol", "direct", &["alice"]).await;
    let group = app.conversation("carol", "group", &["bob", "dave"]).await;
    let first = ring(&app, &alice_bob, "alice").await;

    // a DM to a ringing bob: 409 BUSY, nothing stored, nobody rung
    let r = start(&app, &carol_bob, "carol", "voice").await;
    r.expect_error(409, "BUSY");
    assert_eq!(
        r.body["error"]["details"],
        json!({"busy_user_ids": ["bob"]})
    );
    assert_eq!(count(&app, "calls").await, 1);
    // the caller in a call cannot start another
    start(&app, &carol_alice, "alice", "voice")
        .await
        .expect_error(409, "BUSY");
    // nor can anyone ring alice, who is in her call with bob
    start(&app, &carol_alice, "carol", "voice")
        .await
        .expect_error(409, "BUSY");
    // a group: bob is busy, dave rings
    let second = ring(&app, &group, "carol").await;
    assert_eq!(status_of(&second, "bob"), "busy");
    assert_eq!(status_of(&second, "dave"), "ringing");
    edge.wait_for("call_invite", 2).await;
    let invites = about(&edge, "call_invite", &second);
    assert_eq!(recipients(&invites[0]), ["dave"], "a busy user is not rung");
    // busy bob cannot accept the group call
    act(&app, &second, "bob", "accept")
        .await
        .expect_error(409, "CONFLICT");
    // once his first call ends, bob can be called again
    act(&app, &first, "alice", "end").await.expect(200);
    act(&app, &second, "carol", "end").await.expect(200);
    let r = start(&app, &carol_bob, "carol", "voice").await;
    r.expect(201);
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM call_participants p JOIN users u ON u.id = p.user_id
         WHERE u.tms_user_id = 'bob' AND p.status IN ('ringing', 'joined')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(live, 1);
}
