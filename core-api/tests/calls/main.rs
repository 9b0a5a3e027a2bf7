//! Calls: started in a conversation (ringing the other members), accepted,
//! rejected, left, ended; history; busy; signals relayed between
//! participants only. Every refusal stores nothing. The edge is a stand-in
//! that records what core pushed; users are online through presence reports.

#[path = "../common/mod.rs"]
mod common;

mod races;
mod refusals;
mod sweeper;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use common::{Reply, TestApp};
use core_api::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Direct sweeps only: the background sweeper runs at start, then not for a minute.
fn quiet_sweeper(v: &mut HashMap<String, String>) {
    v.insert("CALL_SWEEP_INTERVAL_MS".into(), "60000".into());
}

async fn start(app: &TestApp, conversation: &str, user: &str, kind: &str) -> Reply {
    app.post(
        &format!("/api/v1/conversations/{conversation}/calls"),
        user,
        json!({ "type": kind }),
    )
    .await
}

/// Starts a voice call (expects 201) and returns it.
async fn ring(app: &TestApp, conversation: &str, user: &str) -> Value {
    let r = start(app, conversation, user, "voice").await;
    r.expect(201);
    r.data().clone()
}

async fn act(app: &TestApp, call: &Value, user: &str, action: &str) -> Reply {
    let id = call["id"].as_str().unwrap();
    app.post(&format!("/api/v1/calls/{id}/{action}"), user, json!({}))
        .await
}

/// A signal as the edge relays a socket's `call_signal`.
async fn signal(app: &TestApp, call: &Value, from: &str, body: Value) -> Reply {
    let id = call["id"].as_str().unwrap();
    app.internal(
        Method::POST,
        &format!("/internal/v1/calls/{id}/signal"),
        from,
        &body,
    )
    .await
}

fn status_of<'a>(call: &'a Value, user: &str) -> &'a str {
    call["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_id"] == user)
        .and_then(|p| p["status"].as_str())
        .unwrap_or("<absent>")
}

/// Every user an event was addressed to, sorted.
fn recipients(event: &Value) -> Vec<String> {
    let mut users: Vec<String> = event["target"]["gateways"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["user_ids"].as_array().unwrap().clone())
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    users.sort();
    users.dedup();
    users
}

/// The pushed events named `event` about this call.
fn about(edge: &common::edge::EdgeStandIn, event: &str, call: &Value) -> Vec<Value> {
    edge.named(event)
        .into_iter()
        .filter(|e| e["data"]["call"]["id"] == call["id"] || e["data"]["call_id"] == call["id"])
        .collect()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_dm_call_rings_is_answered_and_ends_completed_with_its_duration(pool: PgPool) {
    let clock = ManualClock::at(Utc::now());
    let edge = common::edge::EdgeStandIn::start().await;
    let url = edge.url.clone();
    let app = TestApp::spawn_full(
        pool,
        |v| {
            v.insert("EDGE_FANOUT_URL".into(), url);
            quiet_sweeper(v);
        },
        Arc::new(clock.clone()),
    )
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["alice"], &[]).await;
    app.report("DFW.0", &["bob"], &[]).await;

    let r = start(&app, &dm, "alice", "video").await;
    r.expect(201);
    let call = r.data().clone();
    assert_eq!(call["type"], "video");
    assert_eq!(call["status"], "ringing");
    assert_eq!(call["conversation_id"], dm.as_str());
    assert_eq!(call["initiator_id"], "alice");
    assert_eq!(
        (call["answered_at"].clone(), call["duration_secs"].clone()),
        (Value::Null, Value::Null)
    );
    let started: chrono::DateTime<Utc> =
        serde_json::from_value(call["started_at"].clone()).unwrap();
    let expires: chrono::DateTime<Utc> =
        serde_json::from_value(call["ring_expires_at"].clone()).unwrap();
    assert_eq!(
        (expires - started).num_seconds(),
        45,
        "the default ring timeout"
    );
    assert_eq!(
        call["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (
                p["user_id"].as_str().unwrap(),
                p["status"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("alice", "joined"), ("bob", "ringing")]
    );
    // stored: the call and both participants
    let stored: (String, String) =
        sqlx::query_as("SELECT status, media FROM calls WHERE id = $1::uuid")
            .bind(call["id"].as_str())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, ("ringing".into(), "video".into()));
    assert_eq!(count(&app, "call_participants").await, 2);

    // bob's /calls sockets are rung, on his gateway only; the caller is not
    let invites = edge.wait_for("call_invite", 1).await;
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0]["namespace"], "/calls");
    assert_eq!(
        invites[0]["target"],
        json!({"kind": "gateways", "gateways": [{"gateway": "DFW.0", "user_ids": ["bob"]}]})
    );
    assert_eq!(invites[0]["data"]["call"], call);
    assert_eq!(invites[0]["data"]["user_id"], "alice");

    clock.advance(chrono::Duration::seconds(3));
    let accepted = act(&app, &call, "bob", "accept").await;
    accepted.expect(200);
    let ongoing = accepted.data().clone();
    assert_eq!(ongoing["status"], "ongoing");
    assert_eq!(status_of(&ongoing, "bob"), "joined");
    assert_eq!(
        ongoing["ring_expires_at"],
        Value::Null,
        "nobody rings any more"
    );
    assert!(ongoing["answered_at"].is_string());
    let told = edge.wait_for("call_accept", 1).await;
    assert_eq!(
        recipients(&told[0]),
        ["alice", "bob"],
        "every device of both"
    );
    assert_eq!(told[0]["data"]["user_id"], "bob");

    // (less than the signature's 60 s skew: the stand-in edge checks pushes on the real clock)
    clock.advance(chrono::Duration::seconds(50));
    let ended = act(&app, &call, "alice", "end").await;
    ended.expect(200);
    let done = ended.data().clone();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["end_reason"], "hangup");
    assert_eq!(done["duration_secs"], 50);
    assert_eq!(
        (status_of(&done, "alice"), status_of(&done, "bob")),
        ("left", "left")
    );
    let ends = edge.wait_for("call_end", 1).await;
    assert_eq!(recipients(&ends[0]), ["alice", "bob"]);
    assert_eq!(ends[0]["data"]["call"], done);

    // ending again changes nothing and announces nothing
    act(&app, &call, "bob", "end").await.expect(200);
    let got = app
        .get(
            &format!("/api/v1/calls/{}", call["id"].as_str().unwrap()),
            "bob",
        )
        .await;
    got.expect(200);
    assert_eq!(got.data(), &done);
    let history = app
        .get(&format!("/api/v1/conversations/{dm}/calls"), "alice")
        .await;
    history.expect(200);
    assert_eq!(history.data(), &json!([done]));
    assert_eq!(
        history.body["pagination"],
        json!({"next_cursor": null, "has_more": false})
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(about(&edge, "call_end", &call).len(), 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_rejected_dm_ends_rejected_and_the_caller_hears_it(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("AMS.1", &["alice", "bob"], &[]).await;
    let call = ring(&app, &dm, "alice").await;
    let r = act(&app, &call, "bob", "reject").await;
    r.expect(200);
    assert_eq!(r.data()["status"], "rejected");
    assert_eq!(r.data()["end_reason"], "rejected");
    assert_eq!(status_of(r.data(), "bob"), "rejected");
    assert_eq!(status_of(r.data(), "alice"), "left");
    let rejects = edge.wait_for("call_reject", 1).await;
    assert_eq!(recipients(&rejects[0]), ["alice", "bob"]);
    let ends = edge.wait_for("call_end", 1).await;
    assert_eq!(ends[0]["data"]["call"]["status"], "rejected");
    // the order of the lane: the reject before the end
    let names: Vec<String> = edge
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|n| n.starts_with("call_"))
        .collect();
    assert_eq!(names, ["call_invite", "call_reject", "call_end"]);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_group_call_goes_on_while_two_talk_and_ends_when_one_is_left(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let group = app
        .conversation("alice", "group", &["bob", "carol", "dave"])
        .await;
    app.report("AMS.1", &["alice", "bob", "carol", "dave"], &[])
        .await;
    let call = ring(&app, &group, "alice").await;
    let invites = edge.wait_for("call_invite", 1).await;
    assert_eq!(recipients(&invites[0]), ["bob", "carol", "dave"]);

    act(&app, &call, "bob", "accept").await.expect(200);
    act(&app, &call, "carol", "reject").await.expect(200);
    let left = act(&app, &call, "alice", "leave").await;
    left.expect(200);
    assert_eq!(left.data()["status"], "ongoing", "bob waits for dave");
    assert_eq!(status_of(left.data(), "alice"), "left");
    let updated = edge.wait_for("call_updated", 1).await;
    assert_eq!(
        recipients(&updated[0]),
        ["alice", "bob", "dave"],
        "carol rejected: no longer told"
    );
    let last = act(&app, &call, "bob", "leave").await;
    last.expect(200);
    // nobody is left talking: it ends, completed, dave missed it
    assert_eq!(last.data()["status"], "completed");
    assert_eq!(last.data()["end_reason"], "left");
    assert_eq!(status_of(last.data(), "dave"), "missed");
    assert_eq!(status_of(last.data(), "carol"), "rejected");
    let ends = edge.wait_for("call_end", 1).await;
    assert_eq!(recipients(&ends[0]), ["bob", "dave"]);
    // leaving again, or after the end, changes nothing
    act(&app, &call, "bob", "leave").await.expect(200);
    assert_eq!(
        act(&app, &call, "dave", "leave").await.data()["status"],
        "completed"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn history_pages_newest_first_with_a_cursor(pool: PgPool) {
    let app = TestApp::spawn_with(pool, quiet_sweeper).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let mut ids = Vec::new();
    for (i, caller) in ["alice", "bob", "alice"].iter().enumerate() {
        let call = ring(&app, &dm, caller).await;
        let other = if *caller == "alice" { "bob" } else { "alice" };
        let action = if i == 1 { "reject" } else { "end" };
        let who = if action == "reject" { other } else { caller };
        act(&app, &call, who, action).await.expect(200);
        ids.push(call["id"].clone());
    }
    let path = format!("/api/v1/conversations/{dm}/calls");
    let first = app.get(&format!("{path}?limit=2"), "bob").await;
    first.expect(200);
    let page: Vec<&Value> = first.data().as_array().unwrap().iter().collect();
    assert_eq!(
        page.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(page[0]["status"], "missed", "the caller hung up first");
    assert_eq!(page[1]["status"], "rejected");
    assert_eq!(first.body["pagination"]["has_more"], true);
    let cursor = first.body["pagination"]["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), "bob")
        .await;
    second.expect(200);
    assert_eq!(second.data().as_array().unwrap().len(), 1);
    assert_eq!(second.data()[0]["id"], ids[0]);
    assert_eq!(
        second.body["pagination"],
        json!({"next_cursor": null, "has_more": false})
    );
    for bad in [
        "?cursor=%%%",
        "?cursor=MTIz",
        "?limit=0",
        "?limit=101",
        "?limit=x",
    ] {
        app.get(&format!("{path}{bad}"), "bob")
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn signals_reach_the_addressed_participant_only(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, quiet_sweeper).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.report("AMS.1", &["alice", "carol"], &[]).await;
    app.report("DFW.0", &["bob"], &[]).await;
    let call = ring(&app, &group, "alice").await;
    act(&app, &call, "bob", "accept").await.expect(200);

    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"});
    let r = signal(
        &app,
        &call,
        "alice",
        json!({"to_user_id": "bob", "kind": "offer", "payload": offer}),
    )
    .await;
    r.expect(200);
    assert_eq!(
        r.data(),
        &json!({"call_id": call["id"], "to_user_id": "bob", "kind": "offer"})
    );
    let candidates = json!([{"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host", "sdpMid": "0"}]);
    signal(
        &app,
        &call,
        "bob",
        json!({"to_user_id": "alice", "kind": "answer", "payload": {"type": "answer", "sdp": "v=0"}}),
    )
    .await
    .expect(200);
    signal(
        &app,
        &call,
        "bob",
        json!({"to_user_id": "alice", "kind": "ice", "payload": candidates}),
    )
    .await
    .expect(200);
    // carol still rings: a participant may be signalled (an offer with the ring)
    signal(
        &app,
        &call,
        "alice",
        json!({"to_user_id": "carol", "kind": "offer", "payload": offer}),
    )
    .await
    .expect(200);

    let relayed = edge.wait_for("call_signal", 4).await;
    assert_eq!(relayed.len(), 4);
    let to_bob = &relayed[0];
    assert_eq!(to_bob["namespace"], "/calls");
    assert_eq!(
        to_bob["target"],
        json!({"kind": "gateways", "gateways": [{"gateway": "DFW.0", "user_ids": ["bob"]}]})
    );
    assert_eq!(
        to_bob["data"],
        json!({"call_id": call["id"], "from_user_id": "alice", "kind": "offer", "payload": offer})
    );
    assert_eq!(recipients(&relayed[1]), ["alice"]);
    assert_eq!(relayed[1]["data"]["kind"], "answer");
    assert_eq!(relayed[2]["data"]["payload"], candidates);
    assert_eq!(recipients(&relayed[3]), ["carol"]);
    // nothing about signals is stored
    assert_eq!(count(&app, "messages").await, 0);
}
