//! Reactions: one of each emoji per user per message, counts and `me` in
//! message answers, `reaction_added` / `reaction_removed` live to the room.

mod common;

use std::sync::Arc;

use common::{Reply, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The path segment for an emoji, percent-encoded as clients send it.
fn encoded(emoji: &str) -> String {
    emoji.bytes().map(|b| format!("%{b:02X}")).collect()
}

async fn react(app: &TestApp, method: Method, message: &Value, user: &str, emoji: &str) -> Reply {
    let path = format!(
        "/api/v1/messages/{}/reactions/{}",
        message["id"].as_str().unwrap(),
        encoded(emoji)
    );
    app.call(method, &path, user, None).await
}

async fn rows(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT u.tms_user_id, r.emoji FROM reactions r JOIN users u ON u.id = r.user_id ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn reactions_are_counted_per_emoji_and_go_live(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    let m = app.send("bob", &group, "ship it?").await;
    let other = app.send("bob", &group, "other").await;

    let r = react(&app, Method::PUT, &m, "alice", "👍").await;
    r.expect(201);
    assert_eq!(r.data()["message_id"], m["id"]);
    assert_eq!(r.data()["conversation_id"], group.as_str());
    assert_eq!(
        r.data()["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": true}])
    );
    // again: idempotent, 200, nothing new
    let again = react(&app, Method::PUT, &m, "alice", "👍").await;
    again.expect(200);
    assert_eq!(again.data(), r.data());
    react(&app, Method::PUT, &m, "bob", "👍").await.expect(201);
    let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
    let r = react(&app, Method::PUT, &m, "alice", family).await;
    r.expect(201);
    assert_eq!(
        r.data()["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}, {"emoji": family, "count": 1, "me": true}])
    );
    assert_eq!(
        rows(&app).await,
        [
            ("alice".into(), "👍".into()),
            ("alice".into(), family.into()),
            ("bob".into(), "👍".into())
        ]
    );

    // every message answer carries them, with the caller's own `me`
    let expect_carol = json!([{"emoji": "👍", "count": 2, "me": false}, {"emoji": family, "count": 1, "me": false}]);
    let one = app
        .get(
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
            "carol",
        )
        .await;
    one.expect(200);
    assert_eq!(one.data()["reactions"], expect_carol);
    let page = app
        .get(&format!("/api/v1/conversations/{group}/messages"), "carol")
        .await;
    assert_eq!(page.data()[0]["id"], other["id"]);
    assert_eq!(page.data()[0]["reactions"], json!([]));
    assert_eq!(page.data()[1]["reactions"], expect_carol);
    let catch_up = app
        .get(
            &format!("/api/v1/conversations/{group}/messages?after_seq=0"),
            "bob",
        )
        .await;
    assert_eq!(
        catch_up.data()[0]["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}, {"emoji": family, "count": 1, "me": false}])
    );

    // removal: idempotent too; carol's DELETE cannot touch alice's reaction
    let r = react(&app, Method::DELETE, &m, "carol", "👍").await;
    r.expect(200);
    assert_eq!(r.data()["reactions"][0]["count"], 2);
    let r = react(&app, Method::DELETE, &m, "alice", "👍").await;
    r.expect(200);
    assert_eq!(
        r.data()["reactions"][0],
        json!({"emoji": "👍", "count": 1, "me": false})
    );
    react(&app, Method::DELETE, &m, "alice", "👍")
        .await
        .expect(200);
    assert_eq!(
        rows(&app).await,
        [("alice".into(), family.into()), ("bob".into(), "👍".into())]
    );

    // only real changes went live, to the room, with the count after each
    let added = edge.wait_for("reaction_added", 3).await;
    let removed = edge.wait_for("reaction_removed", 1).await;
    // the barrier: a later event on the conversation's lane; a repeat would have come before it
    let marker = app.send("alice", &group, "barrier").await;
    edge.wait_for_where("new_message", |e| e["data"]["id"] == marker["id"])
        .await;
    assert_eq!(
        (
            edge.named("reaction_added").len(),
            edge.named("reaction_removed").len()
        ),
        (3, 1)
    );
    let summary: Vec<(Value, Value, Value)> = added
        .iter()
        .map(|e| {
            (
                e["data"]["user_id"].clone(),
                e["data"]["emoji"].clone(),
                e["data"]["count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!("alice"), json!("👍"), json!(1)),
            (json!("bob"), json!("👍"), json!(2)),
            (json!("alice"), json!(family), json!(1))
        ]
    );
    let e = &removed[0];
    assert_eq!(e["namespace"], "/messaging");
    assert_eq!(
        e["target"],
        json!({"kind": "conversation", "conversation_id": group})
    );
    assert_eq!(
        e["data"],
        json!({"conversation_id": group, "message_id": m["id"], "user_id": "alice", "emoji": "👍", "count": 1})
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn refused_reactions_store_nothing(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let m = app.send("bob", &dm, "hi").await;
    // not one visible grapheme cluster of at most 32 bytes
    let heavy = format!("e{}", "\u{301}".repeat(16)); // one cluster, 33 bytes
    for bad in ["ab", "👍👍", " ", "\t", ":thumbsup:", heavy.as_str()] {
        for method in [Method::PUT, Method::DELETE] {
            let r = react(&app, method.clone(), &m, "alice", bad).await;
            assert_eq!(r.status.as_u16(), 422, "{method} {bad:?}: {}", r.body);
            r.expect_error(422, "VALIDATION_ERROR");
        }
    }
    app.call(
        Method::PUT,
        "/api/v1/messages/nope/reactions/%F0%9F%91%8D",
        "alice",
        None,
    )
    .await
    .expect_error(422, "VALIDATION_ERROR");
    // non-member 403, unknown message 404
    let unknown = json!({"id": uuid::Uuid::new_v4().to_string()});
    for method in [Method::PUT, Method::DELETE] {
        react(&app, method.clone(), &m, "carol", "👍")
            .await
            .expect_error(403, "FORBIDDEN");
        react(&app, method, &unknown, "alice", "👍")
            .await
            .expect_error(404, "NOT_FOUND");
    }
    // a deleted message takes no reaction changes, and its tombstone shows none
    react(&app, Method::PUT, &m, "alice", "👍")
        .await
        .expect(201);
    app.call(
        Method::DELETE,
        &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
        "bob",
        None,
    )
    .await
    .expect(200);
    react(&app, Method::PUT, &m, "alice", "🎉")
        .await
        .expect_error(409, "CONFLICT");
    react(&app, Method::DELETE, &m, "alice", "👍")
        .await
        .expect_error(409, "CONFLICT");
    let page = app
        .get(&format!("/api/v1/conversations/{dm}/messages"), "alice")
        .await;
    assert_eq!(page.data()[0]["reactions"], json!([]));

    assert_eq!(
        rows(&app).await,
        [("alice".into(), "👍".into())],
        "only the one accepted"
    );
    edge.wait_for("reaction_added", 1).await;
    // the barrier: a later event on the conversation's lane
    let marker = app.send("alice", &dm, "barrier").await;
    edge.wait_for_where("new_message", |e| e["data"]["id"] == marker["id"])
        .await;
    assert_eq!(edge.named("reaction_added").len(), 1);
    assert_eq!(edge.named("reaction_removed").len(), 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_message_carries_at_most_20_different_emoji(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let m = app.send("bob", &dm, "react away").await;
    let emoji: Vec<String> = (0..21u32)
        .map(|i| char::from_u32(0x1F600 + i).unwrap().to_string())
        .collect();
    for (i, e) in emoji.iter().take(20).enumerate() {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        react(&app, Method::PUT, &m, user, e).await.expect(201);
    }
    react(&app, Method::PUT, &m, "alice", &emoji[20])
        .await
        .expect_error(409, "CONFLICT");
    // one already there can still be added by someone else
    react(&app, Method::PUT, &m, "alice", &emoji[1])
        .await
        .expect(201);
    assert_eq!(rows(&app).await.len(), 21);
}

/// Concurrent reactions to one message: exact counts, each announced count
/// once (1..=n), and counts equal the rows.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn racing_reactions_count_exactly(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |_| {}).await;
    let app = Arc::new(app);
    let users: Vec<String> = (1..=10).map(|i| format!("load-{i:03}")).collect();
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let group = app.conversation(&users[0], "group", &others).await;
    let m = app.send(&users[0], &group, "race").await;
    let mut tasks = Vec::new();
    for user in &users {
        for _ in 0..3 {
            let (app, user, m) = (app.clone(), user.clone(), m.clone());
            tasks.push(tokio::spawn(async move {
                react(&app, Method::PUT, &m, &user, "🔥").await
            }));
        }
    }
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.status == 201 || r.status == 200, "{}", r.body);
        created += usize::from(r.status == 201);
    }
    assert_eq!(created, 10, "one add per user");
    assert_eq!(rows(&app).await.len(), 10);
    let one = app
        .get(
            &format!("/api/v1/messages/{}", m["id"].as_str().unwrap()),
            &users[0],
        )
        .await;
    assert_eq!(
        one.data()["reactions"],
        json!([{"emoji": "🔥", "count": 10, "me": true}])
    );
    let mut counts: Vec<i64> = edge
        .wait_for("reaction_added", 10)
        .await
        .iter()
        .map(|e| e["data"]["count"].as_i64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
}
