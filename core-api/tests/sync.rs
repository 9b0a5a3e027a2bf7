//! The change feed: a scripted day of changes, read back through
//! `GET /sync` in pages, compared with what was pushed live; visibility,
//! retention and bad cursors.

mod common;

use std::collections::HashMap;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Every change after `since`, page by page; the last cursor.
async fn drain(app: &TestApp, user: &str, since: &str, limit: u32) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut cursor = since.to_string();
    for _ in 0..100 {
        let r = app
            .get(&format!("/api/v1/sync?since={cursor}&limit={limit}"), user)
            .await;
        r.expect(200);
        all.extend(r.data().as_array().unwrap().iter().cloned());
        cursor = r.body["pagination"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        if r.body["pagination"]["has_more"] == false {
            return (all, cursor);
        }
    }
    panic!("the feed never ended");
}

/// `drain` until at least `n` changes are out. The feed holds back changes
/// while an older transaction anywhere on the (shared) Postgres is running,
/// so a change shows up once those have ended.
async fn drain_at_least(
    app: &TestApp,
    user: &str,
    since: &str,
    limit: u32,
    n: usize,
) -> (Vec<Value>, String) {
    for _ in 0..300 {
        let (changes, cursor) = drain(app, user, since, limit).await;
        if changes.len() >= n {
            return (changes, cursor);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} changes after 15 s");
}

async fn start(app: &TestApp, user: &str) -> String {
    let r = app.get("/api/v1/sync", user).await;
    r.expect(200);
    assert_eq!(r.data(), &json!([]));
    assert_eq!(r.body["pagination"]["has_more"], false);
    r.body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string()
}

fn summary(changes: &[Value]) -> Vec<(String, String)> {
    changes
        .iter()
        .map(|c| {
            let d = &c["data"];
            let what = d["content"]
                .as_str()
                .map(str::to_string)
                .or_else(|| d["user_id"].as_str().map(str::to_string))
                .or_else(|| {
                    d["user_ids"]
                        .as_array()
                        .map(|u| u[0].as_str().unwrap().to_string())
                })
                .or_else(|| d["last_read_seq"].as_i64().map(|s| s.to_string()))
                .or_else(|| d["question"].as_str().map(str::to_string))
                .or_else(|| d["title"].as_str().map(str::to_string))
                .unwrap_or_default();
            (c["event"].as_str().unwrap().to_string(), what)
        })
        .collect()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_scripted_day_reads_back_in_order_in_any_page_size(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let since = start(&app, "bob").await;
    let carol_since = start(&app, "carol").await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.report("DFW.0", &["alice", "bob", "carol"], &[]).await;

    // the day
    let hello = app.send("alice", &group, "hello").await;
    let hello_id = hello["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/api/v1/messages/{hello_id}"),
        "alice",
        Some(json!({"content": "hello all"})),
    )
    .await
    .expect(200);
    let mine = app.send("bob", &group, "hi alice").await;
    let mine_id = mine["id"].as_str().unwrap().to_string();
    app.call(
        Method::PUT,
        &format!("/api/v1/messages/{hello_id}/reactions/%F0%9F%91%8D"),
        "bob",
        None,
    )
    .await
    .expect(201);
    app.post(
        &format!("/api/v1/messages/{mine_id}/read"),
        "alice",
        json!({}),
    )
    .await
    .expect(200);
    let poll = app
        .post(
            &format!("/api/v1/conversations/{group}/polls"),
            "alice",
            json!({"question": "Lunch?", "options": ["yes", "no"]}),
        )
        .await;
    poll.expect(201);
    app.post(
        &format!("/api/v1/conversations/{group}/members"),
        "alice",
        json!({"member_ids": ["carol"]}),
    )
    .await
    .expect(200);
    let bye = app.send("carol", &group, "bye").await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/messages/{}", bye["id"].as_str().unwrap()),
        "carol",
        None,
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/conversations/{group}/read"),
        "bob",
        json!({"seq": 99}),
    )
    .await
    .expect(200);
    // a change bob must not see: a DM he is not in
    let other = app.conversation("alice", "direct", &["carol"]).await;
    app.send("alice", &other, "secret").await;

    let (changes, after) = drain_at_least(&app, "bob", &since, 100, 15).await;
    let got = summary(&changes);
    let want: Vec<(String, String)> = [
        ("member_added", "alice"),
        ("member_added", "bob"),
        ("new_message", "hello all"),
        ("message_updated", "hello all"),
        ("new_message", "hi alice"),
        ("conversation_read", "5"),
        ("reactions_changed", "hello all"),
        ("message_status", "alice"),
        ("new_message", "Lunch?"),
        ("poll_updated", "Lunch?"),
        ("member_added", "carol"),
        ("new_message", "alice added carol"),
        ("new_message", ""),
        ("message_deleted", ""),
        ("conversation_read", "5"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want, "{changes:#?}");
    // cursors strictly increase, and each page size gives the same feed
    for size in [1, 2, 5] {
        let (paged, _) = drain_at_least(&app, "bob", &since, size, changes.len()).await;
        assert_eq!(paged, changes, "pages of {size}");
    }
    // from any change's cursor: exactly what follows it
    let from = changes[5]["cursor"].as_str().unwrap();
    let (rest, _) = drain_at_least(&app, "bob", from, 3, changes.len() - 6).await;
    assert_eq!(rest, changes[6..].to_vec());
    // caught up: nothing new, the cursor stays usable
    let (none, again) = drain(&app, "bob", &after, 10).await;
    assert!(none.is_empty());
    let (none, _) = drain(&app, "bob", &again, 10).await;
    assert!(none.is_empty());

    // carol sees her conversations from the moment she joined only
    let (carols, _) = drain_at_least(&app, "carol", &carol_since, 100, 4).await;
    let carol_events: Vec<(String, String)> = summary(&carols);
    assert_eq!(
        carol_events[0],
        ("member_added".to_string(), "carol".to_string())
    );
    assert!(carol_events
        .iter()
        .all(|(_, w)| w != "hello all" && w != "hi alice"));
    assert!(carol_events.iter().any(|(_, w)| w == "secret"));

    // the same messages went out live, in the same order
    let live: Vec<Value> = edge
        .events()
        .into_iter()
        .filter(|e| e["namespace"] == "/messaging" && e["target"]["kind"] == "conversation")
        .filter(|e| e["data"]["conversation_id"] == group.as_str())
        .filter(|e| e["event"] == "new_message")
        .map(|e| e["data"]["id"].clone())
        .collect();
    let fed: Vec<Value> = changes
        .iter()
        .filter(|c| c["event"] == "new_message")
        .map(|c| c["data"]["id"].clone())
        .collect();
    assert_eq!(fed, live);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_removed_member_learns_it_and_then_nothing_more(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    let since = start(&app, "bob").await;
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{group}/members/bob"),
        "alice",
        None,
    )
    .await
    .expect(200);
    app.send("alice", &group, "after bob").await;
    let (changes, _) = drain_at_least(&app, "bob", &since, 50, 1).await;
    assert_eq!(
        summary(&changes),
        vec![("member_removed".to_string(), "bob".to_string())],
        "{changes:#?}"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn old_and_forged_cursors_are_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v: &mut HashMap<String, String>| {
        v.insert("SYNC_RETENTION_DAYS".into(), "1".into());
    })
    .await;
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let two_days_ago = chrono::Utc::now().timestamp_millis() - 2 * 86_400_000;
    let r = app
        .get(
            &format!(
                "/api/v1/sync?since={}",
                enc(&format!("s1.1.1.{two_days_ago}"))
            ),
            "bob",
        )
        .await;
    r.expect_error(410, "SYNC_CURSOR_EXPIRED");
    for bad in [
        "nope",
        &enc("s1.x.1.1"),
        &enc("s2.1.1.1"),
        &enc("s1.-1.1.1"),
    ] {
        app.get(&format!("/api/v1/sync?since={bad}"), "bob")
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    app.get("/api/v1/sync?limit=0", "bob")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.get("/api/v1/sync?limit=101", "bob")
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.raw(Method::GET, "/api/v1/sync", None, None)
        .await
        .expect(401);
    // pruning drops what is past retention
    let group = app.conversation("alice", "group", &["bob"]).await;
    app.send("alice", &group, "x").await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sync_changes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(rows > 0);
    sqlx::query("UPDATE sync_changes SET created_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let pruned = core_api::services::sync::prune(&app.state, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(pruned as i64, rows);
}
