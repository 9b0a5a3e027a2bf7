mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::Value;
use sqlx::PgPool;

async fn search(app: &TestApp, user: &str, query: &str) -> common::Reply {
    app.get(&format!("/api/v1/search/messages?{query}"), user)
        .await
}

fn contents(r: &common::Reply) -> Vec<String> {
    r.data()
        .as_array()
        .expect("a list")
        .iter()
        .map(|h| h["message"]["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn finds_words_and_prefixes_newest_first_with_snippets(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let team = app.conversation("alice", "group", &["bob"]).await;
    app.send(
        "alice",
        &team,
        "Deploy the <b>release</b> on Friday & celebrate",
    )
    .await;
    app.send("bob", &team, "unrelated chatter").await;
    app.send("bob", &team, "the DEPLOYMENT went well, 東京 too")
        .await;

    let r = search(&app, "alice", "q=deploy").await;
    r.expect(200);
    // whole words match, the last one as a prefix; newest first
    assert_eq!(
        contents(&r),
        [
            "the DEPLOYMENT went well, 東京 too",
            "Deploy the <b>release</b> on Friday & celebrate"
        ]
    );
    let hits = r.data().as_array().unwrap();
    assert_eq!(hits[0]["message"]["sender_id"], "bob");
    assert_eq!(hits[0]["message"]["conversation_id"], team);
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>DEPLOYMENT</mark>"),
        "{}",
        hits[0]["snippet"]
    );
    // the content's markup is escaped, only <mark> is ours
    let snippet = hits[1]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<mark>Deploy</mark>"), "{snippet}");
    assert!(snippet.contains("&lt;b&gt;release&lt;/b&gt;"), "{snippet}");
    assert!(snippet.contains("&amp;"), "{snippet}");
    assert_eq!(r.body["pagination"]["has_more"], false);

    // a trailing space ends the word: no prefix match
    let r = search(&app, "alice", "q=deploy%20").await;
    assert_eq!(
        contents(&r),
        ["Deploy the <b>release</b> on Friday & celebrate"]
    );
    // every word must occur; -word excludes
    assert_eq!(
        contents(&search(&app, "alice", "q=deploy%20friday").await),
        ["Deploy the <b>release</b> on Friday & celebrate"]
    );
    assert_eq!(
        contents(&search(&app, "alice", "q=-friday%20deploy").await),
        ["the DEPLOYMENT went well, 東京 too"]
    );
    // other scripts, and syntax characters that are only separators
    assert_eq!(
        contents(&search(&app, "bob", "q=%E6%9D%B1%E4%BA%AC").await),
        ["the DEPLOYMENT went well, 東京 too"]
    );
    search(&app, "bob", "q=deploy%27%20%26%20%21(:*")
        .await
        .expect(200);
    // filters
    assert_eq!(
        contents(&search(&app, "alice", "q=deploy&sender_id=alice").await),
        ["Deploy the <b>release</b> on Friday & celebrate"]
    );
    assert_eq!(
        contents(&search(&app, "alice", "q=deploy&sender_id=nobody").await).len(),
        0
    );
    assert_eq!(
        contents(&search(&app, "alice", &format!("q=deploy&conversation_id={team}")).await).len(),
        2
    );
    assert_eq!(
        contents(&search(&app, "alice", "q=deploy&after=2999-01-01T00:00:00Z").await).len(),
        0
    );
    assert_eq!(
        contents(&search(&app, "alice", "q=deploy&before=2999-01-01T00:00:00Z").await).len(),
        2
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn pages_follow_the_cursor_without_gaps_or_repeats(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    for i in 0..5 {
        app.send("alice", &dm, &format!("needle number {i}")).await;
    }
    let mut seen = Vec::new();
    let mut query = "q=needle&limit=2".to_string();
    loop {
        let r = search(&app, "bob", &query).await;
        r.expect(200);
        seen.extend(contents(&r));
        let Some(next) = r.body["pagination"]["next_cursor"].as_str() else {
            assert_eq!(r.body["pagination"]["has_more"], false);
            break;
        };
        query = format!("q=needle&limit=2&cursor={next}");
    }
    let expected: Vec<String> = (0..5).rev().map(|i| format!("needle number {i}")).collect();
    assert_eq!(seen, expected);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn only_members_find_and_deleted_messages_vanish(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let team = app.conversation("alice", "group", &["bob", "carol"]).await;
    let kept = app.send("alice", &team, "secret plan alpha").await;
    let gone = app.send("alice", &team, "secret plan beta").await;

    // an outsider finds nothing, and may not name the conversation
    let r = search(&app, "dave", "q=secret").await;
    r.expect(200);
    assert_eq!(r.data(), &Value::Array(vec![]));
    search(&app, "dave", &format!("q=secret&conversation_id={team}"))
        .await
        .expect_error(403, "FORBIDDEN");

    // a deleted message is found no more
    app.call(
        Method::DELETE,
        &format!("/api/v1/messages/{}", gone["id"].as_str().unwrap()),
        "alice",
        None,
    )
    .await
    .expect(200);
    assert_eq!(
        contents(&search(&app, "bob", "q=secret").await),
        ["secret plan alpha"]
    );
    assert_eq!(contents(&search(&app, "bob", "q=beta").await).len(), 0);

    // a removed member no longer finds the conversation's messages, earlier ones included
    assert_eq!(contents(&search(&app, "carol", "q=plan").await).len(), 1);
    app.call(
        Method::DELETE,
        &format!("/api/v1/conversations/{team}/members/carol"),
        "alice",
        None,
    )
    .await
    .expect(200);
    let r = search(&app, "carol", "q=plan").await;
    r.expect(200);
    assert_eq!(r.data(), &Value::Array(vec![]));
    assert_eq!(kept["content"], "secret plan alpha");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_queries_are_422_never_500(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.send("alice", &dm, "hello").await;
    let long = "x".repeat(201);
    let many = "w%20".repeat(17);
    for query in [
        "",
        "q=",
        "q=%20%20",
        "q=%21%21%21%20%3A%2A%20%26%26",
        "q=-only%20-excluded",
        &format!("q={long}"),
        &format!("q={many}"),
        "q=hello&limit=0",
        "q=hello&limit=101",
        "q=hello&limit=abc",
        "q=hello&cursor=not-a-cursor",
        "q=hello&conversation_id=nope",
        "q=hello&before=yesterday",
        "q=hello&after=2026-01-02T00:00:00Z&before=2026-01-01T00:00:00Z",
        "q=hello&sender_id=",
    ] {
        search(&app, "alice", query)
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    // nothing broke: the same caller still searches
    assert_eq!(contents(&search(&app, "alice", "q=hello").await), ["hello"]);
}
