//! Polls: created as a `poll` message, voted on (replace, retract), closed;
//! results live to the room as `poll_updated`. Every route's refusals leave
//! nothing stored. The edge is a stand-in that records what core pushed.

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;

use common::{Reply, TestApp};
use core_api::clock::{Clock, ManualClock};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

fn poll_body(options: &[&str]) -> Value {
    json!({"question": "Lunch?", "options": options})
}

async fn create(app: &TestApp, conversation: &str, user: &str, body: Value) -> Reply {
    app.post(
        &format!("/api/v1/conversations/{conversation}/polls"),
        user,
        body,
    )
    .await
}

/// Creates a poll (expects 201) and returns `data.poll`.
async fn poll(app: &TestApp, conversation: &str, user: &str, body: Value) -> Value {
    let r = create(app, conversation, user, body).await;
    r.expect(201);
    r.data()["poll"].clone()
}

async fn vote(app: &TestApp, poll: &Value, user: &str, options: &[&Value]) -> Reply {
    app.call(
        Method::PUT,
        &format!("/api/v1/polls/{}/vote", poll["id"].as_str().unwrap()),
        user,
        Some(json!({ "option_ids": options })),
    )
    .await
}

async fn retract(app: &TestApp, poll: &Value, user: &str) -> Reply {
    let path = format!("/api/v1/polls/{}/vote", poll["id"].as_str().unwrap());
    app.call(Method::DELETE, &path, user, None).await
}

async fn close(app: &TestApp, poll: &Value, user: &str) -> Reply {
    let path = format!("/api/v1/polls/{}/close", poll["id"].as_str().unwrap());
    app.post(&path, user, json!({})).await
}

fn option(poll: &Value, i: usize) -> &Value {
    &poll["options"][i]["id"]
}

fn counts(poll: &Value) -> Vec<i64> {
    poll["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["votes"].as_i64().unwrap())
        .collect()
}

/// `(user, option position)` of every vote row, sorted.
async fn vote_rows(app: &TestApp) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT u.tms_user_id, o.position FROM poll_votes v
         JOIN users u ON u.id = v.user_id JOIN poll_options o ON o.id = v.option_id
         ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_poll_is_a_message_with_a_seq_and_is_caught_up_like_one(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.send("bob", &group, "before").await;
    let r = create(
        &app,
        &group,
        "alice",
        json!({"question": "  Lunch where?  ", "options": ["Pizza", " Sushi "], "multiple": true, "anonymous": false}),
    )
    .await;
    r.expect(201);
    let (p, m) = (&r.data()["poll"], &r.data()["message"]);
    assert_eq!(p["question"], "Lunch where?", "trimmed");
    assert_eq!(p["creator_id"], "alice");
    assert_eq!(p["conversation_id"], group.as_str());
    assert_eq!(
        (p["multiple"].clone(), p["anonymous"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        (p["closed"].clone(), p["closes_at"].clone()),
        (json!(false), Value::Null)
    );
    assert_eq!(p["options"][1]["text"], "Sushi");
    assert_eq!(p["options"][1]["position"], 1);
    assert_eq!(counts(p), vec![0, 0]);
    assert_eq!(p["options"][0]["voters"], json!([]));
    assert_eq!(
        (p["total_voters"].clone(), p["version"].clone()),
        (json!(0), json!(0))
    );
    assert_eq!(p["my_votes"], json!([]));
    assert_eq!(m["type"], "poll");
    assert_eq!(m["seq"], 2);
    assert_eq!(m["content"], "Lunch where?");
    assert_eq!(m["poll_id"], p["id"]);
    assert_eq!(p["message_id"], m["id"]);
    assert_eq!(m["reactions"], json!([]));

    // stored as one message, one poll, two options in order
    let stored: (String, i64, String) = sqlx::query_as(
        "SELECT m.kind, m.seq, p.question FROM polls p JOIN messages m ON m.id = p.message_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, ("poll".into(), 2, "Lunch where?".into()));
    let texts: Vec<String> = sqlx::query_scalar("SELECT text FROM poll_options ORDER BY position")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(texts, ["Pizza", "Sushi"]);

    // live as a new message with the room's order key, naming its poll
    let pushed = edge.wait_for("new_message", 2).await;
    let e = pushed
        .iter()
        .find(|e| e["data"]["type"] == "poll")
        .expect("poll message pushed");
    assert_eq!(e["seq"], 2);
    assert_eq!(e["namespace"], "/messaging");
    assert_eq!(e["data"]["poll_id"], p["id"]);
    assert!(
        e["data"].get("reactions").is_none(),
        "live events carry no reactions"
    );

    // catch-up, pages and the single message name the poll; bob sees it
    let after = app
        .get(
            &format!("/api/v1/conversations/{group}/messages?after_seq=1"),
            "bob",
        )
        .await;
    after.expect(200);
    assert_eq!(after.data()[0]["poll_id"], p["id"]);
    let page = app
        .get(&format!("/api/v1/conversations/{group}/messages"), "carol")
        .await;
    assert_eq!(page.data()[0]["poll_id"], p["id"]);
    assert!(
        page.data()[1].get("poll_id").is_none(),
        "a text message names no poll"
    );
    let one = app
        .get(
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
            "bob",
        )
        .await;
    assert_eq!(one.data(), m);
    let got = app
        .get(
            &format!("/api/v1/polls/{}", p["id"].as_str().unwrap()),
            "bob",
        )
        .await;
    got.expect(200);
    assert_eq!(got.data(), p);

    // a poll message is not sent, nor edited, through the message routes
    app.post(
        "/api/v1/messages",
        "alice",
        json!({"conversation_id": group, "type": "poll", "content": "x"}),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    let path = format!("/api/v1/messages/{}", m["id"].as_str().unwrap());
    app.call(
        Method::PATCH,
        &path,
        "alice",
        Some(json!({"content": "edited"})),
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_polls_are_422_and_store_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let eleven: Vec<String> = (0..11).map(|i| format!("o{i}")).collect();
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let cases = [
        json!({"question": "  ", "options": ["a", "b"]}),
        json!({"question": "q".repeat(301), "options": ["a", "b"]}),
        json!({"question": "q", "options": ["a"]}),
        json!({"question": "q", "options": eleven}),
        json!({"question": "q", "options": ["a", " "]}),
        json!({"question": "q", "options": ["a", "o".repeat(101)]}),
        json!({"question": "q", "options": ["a", "b", " a"]}),
        json!({"question": "q", "options": ["a", "b"], "closes_at": past}),
        json!({"question": "q", "options": ["a", "b"], "closes_at": "tomorrow"}),
        json!({"question": "q", "options": "a,b"}),
        json!({"options": ["a", "b"]}),
    ];
    for body in cases {
        let r = create(&app, &dm, "alice", body.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{body}: {}", r.body);
        r.expect_error(422, "VALIDATION_ERROR");
    }
    // the limits themselves are fine: 300 characters (not bytes), 10 options of 100
    let ten: Vec<String> = (0..10).map(|i| format!("{i}{}", "é".repeat(99))).collect();
    create(
        &app,
        &dm,
        "alice",
        json!({"question": "é".repeat(300), "options": ten}),
    )
    .await
    .expect(201);
    assert_eq!(count(&app, "polls").await, 1);
    assert_eq!(count(&app, "messages").await, 1);
    assert_eq!(count(&app, "poll_options").await, 10);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn only_members_see_or_touch_a_poll(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let p = poll(&app, &dm, "alice", poll_body(&["a", "b"])).await;
    vote(&app, &p, "bob", &[option(&p, 0)]).await.expect(200);
    edge.wait_for("poll_updated", 1).await;
    let id = p["id"].as_str().unwrap();

    let body = Some(json!({"option_ids": [option(&p, 1)]}));
    let routes: [(Method, String, Option<Value>); 5] = [
        (
            Method::POST,
            format!("/api/v1/conversations/{dm}/polls"),
            Some(poll_body(&["x", "y"])),
        ),
        (Method::GET, format!("/api/v1/polls/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/polls/{id}/vote"),
            body.clone(),
        ),
        (Method::DELETE, format!("/api/v1/polls/{id}/vote"), None),
        (
            Method::POST,
            format!("/api/v1/polls/{id}/close"),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in &routes {
        let r = app.call(method.clone(), path, "carol", body.clone()).await;
        assert_eq!(r.status.as_u16(), 403, "{method} {path}: {}", r.body);
        r.expect_error(403, "FORBIDDEN");
    }
    // unknown poll or conversation: 404; an id that is no uuid: 422
    let unknown = uuid::Uuid::new_v4();
    for (method, path, body) in [
        (
            Method::POST,
            format!("/api/v1/conversations/{unknown}/polls"),
            Some(poll_body(&["x", "y"])),
        ),
        (Method::GET, format!("/api/v1/polls/{unknown}"), None),
        (
            Method::PUT,
            format!("/api/v1/polls/{unknown}/vote"),
            body.clone(),
        ),
        (
            Method::DELETE,
            format!("/api/v1/polls/{unknown}/vote"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/polls/{unknown}/close"),
            Some(json!({})),
        ),
    ] {
        let r = app.call(method.clone(), &path, "alice", body).await;
        assert_eq!(r.status.as_u16(), 404, "{method} {path}: {}", r.body);
        r.expect_error(404, "NOT_FOUND");
    }
    app.get("/api/v1/polls/not-a-uuid", "alice")
        .await
        .expect_error(422, "VALIDATION_ERROR");

    // nothing changed: one poll, bob's one vote, still open, one event
    assert_eq!(count(&app, "polls").await, 1);
    assert_eq!(vote_rows(&app).await, [("bob".to_string(), 0)]);
    let closed: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT closed_at FROM polls")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(closed.is_none());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(edge.named("poll_updated").len(), 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn votes_replace_and_retract_and_results_go_live(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let p = poll(&app, &group, "alice", poll_body(&["a", "b", "c"])).await;

    let r = vote(&app, &p, "bob", &[option(&p, 0)]).await;
    r.expect(200);
    assert_eq!(counts(r.data()), [1, 0, 0]);
    assert_eq!(r.data()["my_votes"], json!([option(&p, 0)]));
    assert_eq!(r.data()["options"][0]["voters"], json!(["bob"]));
    assert_eq!(
        (
            r.data()["version"].clone(),
            r.data()["total_voters"].clone()
        ),
        (json!(1), json!(1))
    );
    vote(&app, &p, "carol", &[option(&p, 0)]).await.expect(200);
    // bob changes his mind: his vote is replaced, not added
    let r = vote(&app, &p, "bob", &[option(&p, 2)]).await;
    r.expect(200);
    assert_eq!(counts(r.data()), [1, 0, 1]);
    assert_eq!(r.data()["options"][0]["voters"], json!(["carol"]));
    assert_eq!(r.data()["total_voters"], 2);
    // the same vote again changes nothing and announces nothing
    let same = vote(&app, &p, "bob", &[option(&p, 2)]).await;
    same.expect(200);
    assert_eq!(same.data()["version"], 3);
    // carol retracts, twice: the second is a no-op
    let r = retract(&app, &p, "carol").await;
    r.expect(200);
    assert_eq!(counts(r.data()), [0, 0, 1]);
    assert_eq!(r.data()["my_votes"], json!([]));
    assert_eq!(r.data()["version"], 4);
    let again = retract(&app, &p, "carol").await;
    again.expect(200);
    assert_eq!(again.data()["version"], 4);
    assert_eq!(vote_rows(&app).await, [("bob".to_string(), 2)]);

    // every change, and only changes, went to the room with the results
    let updates = edge.wait_for("poll_updated", 4).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let updates_now = edge.named("poll_updated");
    assert_eq!(updates_now.len(), 4, "{updates:?}");
    let last = &updates_now[3];
    assert_eq!(last["namespace"], "/messaging");
    assert_eq!(
        last["target"],
        json!({"kind": "conversation", "conversation_id": group})
    );
    assert!(last["seq"].is_null());
    assert_eq!(last["data"]["version"], 4);
    assert_eq!(counts(&last["data"]), [0, 0, 1]);
    assert_eq!(last["data"]["options"][2]["voters"], json!(["bob"]));
    assert!(
        last["data"].get("my_votes").is_none(),
        "the room gets no one's own votes"
    );
    let versions: Vec<i64> = updates_now
        .iter()
        .map(|e| e["data"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);

    // alice's view: results with voters, her own (empty) choice
    let got = app
        .get(
            &format!("/api/v1/polls/{}", p["id"].as_str().unwrap()),
            "alice",
        )
        .await;
    assert_eq!(counts(got.data()), [0, 0, 1]);
    assert_eq!(got.data()["my_votes"], json!([]));
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_votes_are_422_and_store_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let single = poll(&app, &dm, "alice", poll_body(&["a", "b"])).await;
    let mut body = poll_body(&["x", "y", "z"]);
    body["multiple"] = json!(true);
    let multi = poll(&app, &dm, "alice", body).await;
    vote(&app, &single, "bob", &[option(&single, 1)])
        .await
        .expect(200);

    let path = format!("/api/v1/polls/{}/vote", single["id"].as_str().unwrap());
    for (what, body) in [
        (
            "two options on a single-choice poll",
            json!({"option_ids": [option(&single, 0), option(&single, 1)]}),
        ),
        (
            "an option of another poll",
            json!({"option_ids": [option(&multi, 0)]}),
        ),
        (
            "an unknown option",
            json!({"option_ids": [uuid::Uuid::new_v4()]}),
        ),
        ("no option", json!({"option_ids": []})),
        ("not a uuid", json!({"option_ids": ["a"]})),
        ("no option_ids", json!({})),
    ] {
        let r = app.call(Method::PUT, &path, "bob", Some(body)).await;
        assert_eq!(r.status.as_u16(), 422, "{what}: {}", r.body);
        r.expect_error(422, "VALIDATION_ERROR");
    }
    let path = format!("/api/v1/polls/{}/vote", multi["id"].as_str().unwrap());
    for (what, body) in [
        (
            "a repeated option",
            json!({"option_ids": [option(&multi, 0), option(&multi, 0)]}),
        ),
        (
            "a mix with another poll's option",
            json!({"option_ids": [option(&multi, 0), option(&single, 0)]}),
        ),
    ] {
        let r = app.call(Method::PUT, &path, "bob", Some(body)).await;
        assert_eq!(r.status.as_u16(), 422, "{what}: {}", r.body);
    }
    // bob's one vote is untouched; a multiple-choice poll takes several
    assert_eq!(vote_rows(&app).await, [("bob".to_string(), 1)]);
    let r = vote(&app, &multi, "bob", &[option(&multi, 2), option(&multi, 0)]).await;
    r.expect(200);
    assert_eq!(counts(r.data()), [1, 0, 1]);
    assert_eq!(r.data()["total_voters"], 1, "one person, two options");
    assert_eq!(
        r.data()["my_votes"],
        json!([option(&multi, 0), option(&multi, 2)])
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_closed_poll_takes_no_vote(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let p = poll(&app, &group, "bob", poll_body(&["a", "b"])).await;
    vote(&app, &p, "carol", &[option(&p, 0)]).await.expect(200);

    // carol, a plain member, may not close bob's poll
    close(&app, &p, "carol")
        .await
        .expect_error(403, "FORBIDDEN");
    let closed = close(&app, &p, "bob").await;
    closed.expect(200);
    assert_eq!(closed.data()["closed"], true);
    assert!(closed.data()["closed_at"].is_string());
    assert_eq!(closed.data()["version"], 2);

    for r in [
        vote(&app, &p, "carol", &[option(&p, 1)]).await,
        vote(&app, &p, "alice", &[option(&p, 1)]).await,
        retract(&app, &p, "carol").await,
    ] {
        r.expect_error(409, "CONFLICT");
    }
    // closing again answers the poll unchanged
    let again = close(&app, &p, "bob").await;
    again.expect(200);
    assert_eq!(again.data()["version"], 2);
    assert_eq!(again.data()["closed_at"], closed.data()["closed_at"]);
    assert_eq!(vote_rows(&app).await, [("carol".to_string(), 0)]);
    let updates = edge.wait_for("poll_updated", 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(edge.named("poll_updated").len(), 2, "{updates:?}");
    assert_eq!(edge.named("poll_updated")[1]["data"]["closed"], true);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_creator_or_a_group_admin_closes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let group = app
        .conversation("alice", "group", &["bob", "carol", "dave"])
        .await;
    app.set_role(&group, "alice", "carol", "admin")
        .await
        .expect(200);
    let by_admin = poll(&app, &group, "bob", poll_body(&["a", "b"])).await;
    let by_owner = poll(&app, &group, "dave", poll_body(&["a", "b"])).await;
    let by_self = poll(&app, &group, "dave", poll_body(&["a", "b"])).await;
    close(&app, &by_admin, "dave")
        .await
        .expect_error(403, "FORBIDDEN");
    close(&app, &by_admin, "carol").await.expect(200);
    close(&app, &by_owner, "alice").await.expect(200);
    close(&app, &by_self, "dave").await.expect(200);

    // in a DM there are no admins: only the creator closes
    let dm = app.conversation("erin", "direct", &["frank"]).await;
    let p = poll(&app, &dm, "erin", poll_body(&["a", "b"])).await;
    close(&app, &p, "frank")
        .await
        .expect_error(403, "FORBIDDEN");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM polls WHERE closed_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(open, 1, "only the DM's poll is still open");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_poll_closes_by_itself_at_closes_at(pool: PgPool) {
    let clock = ManualClock::at(chrono::Utc::now());
    let app = TestApp::spawn_full(pool, |_| {}, Arc::new(clock.clone())).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let closes_at = clock.now() + chrono::Duration::minutes(10);
    let mut body = poll_body(&["a", "b"]);
    body["closes_at"] = json!(closes_at);
    let p = poll(&app, &dm, "alice", body).await;
    assert_eq!(p["closed"], false);
    vote(&app, &p, "bob", &[option(&p, 0)]).await.expect(200);
    clock.advance(chrono::Duration::minutes(9));
    vote(&app, &p, "bob", &[option(&p, 0)]).await.expect(200);
    // tokens last an hour, so the clock moves by minutes
    clock.advance(chrono::Duration::minutes(1));
    vote(&app, &p, "bob", &[option(&p, 1)])
        .await
        .expect_error(409, "CONFLICT");
    vote(&app, &p, "alice", &[option(&p, 1)])
        .await
        .expect_error(409, "CONFLICT");
    let got = app
        .get(
            &format!("/api/v1/polls/{}", p["id"].as_str().unwrap()),
            "alice",
        )
        .await;
    assert_eq!(got.data()["closed"], true);
    assert!(
        got.data()["closed_at"].is_null(),
        "nobody closed it by hand"
    );
    assert_eq!(vote_rows(&app).await, [("bob".to_string(), 0)]);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn an_anonymous_poll_shows_counts_but_no_voters(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let mut body = poll_body(&["a", "b"]);
    body["anonymous"] = json!(true);
    let p = poll(&app, &group, "alice", body).await;
    let r = vote(&app, &p, "bob", &[option(&p, 1)]).await;
    assert_eq!(counts(r.data()), [0, 1]);
    assert_eq!(
        r.data()["my_votes"],
        json!([option(&p, 1)]),
        "bob still sees his own choice"
    );
    for view in [
        r.data().clone(),
        app.get(
            &format!("/api/v1/polls/{}", p["id"].as_str().unwrap()),
            "alice",
        )
        .await
        .data()
        .clone(),
        edge.wait_for("poll_updated", 1).await[0]["data"].clone(),
    ] {
        for o in view["options"].as_array().unwrap() {
            assert!(o.get("voters").is_none(), "{view}");
        }
        assert!(!view.to_string().contains("\"bob\""), "{view}");
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn deleting_the_poll_message_removes_the_poll(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let r = create(&app, &dm, "alice", poll_body(&["a", "b"])).await;
    let (p, m) = (r.data()["poll"].clone(), r.data()["message"].clone());
    app.call(
        Method::DELETE,
        &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
        "alice",
        None,
    )
    .await
    .expect(200);
    let id = p["id"].as_str().unwrap();
    app.get(&format!("/api/v1/polls/{id}"), "bob")
        .await
        .expect_error(404, "NOT_FOUND");
    vote(&app, &p, "bob", &[option(&p, 0)])
        .await
        .expect_error(404, "NOT_FOUND");
    let page = app
        .get(&format!("/api/v1/conversations/{dm}/messages"), "bob")
        .await;
    assert!(
        page.data()[0].get("poll_id").is_none(),
        "a tombstone names no poll"
    );
    assert_eq!(count(&app, "poll_votes").await, 0);
}

/// Many concurrent PUT/DELETE by the same and by different users: every
/// answer is a state the poll really passed through, a single-choice poll
/// never holds two votes of one user, and counts equal the rows.
mod races;
