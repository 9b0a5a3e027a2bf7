//! Push to offline members: after a new message commits, core POSTs a signed
//! batch to `PUSH_WEBHOOK_URL` naming who should hear of it. The push
//! gateway is a stand-in that checks the signature and records each event once.

mod common;

use std::sync::atomic::Ordering;

use common::TestApp;
use push_standin::Running;
use reqwest::Method;
use serde_json::{json, Value};
use shared_types::push::{PushEvent, PushRecipient};
use sqlx::PgPool;

const SECRET: &str = "test-push-secret-0123456789abcdef0123456789";

async fn spawn(pool: PgPool, extra: &[(&str, &str)]) -> (TestApp, Running) {
    let gateway = push_standin::spawn("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let url = gateway.url();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("PUSH_WEBHOOK_URL".into(), url);
        v.insert("PUSH_WEBHOOK_SECRET".into(), SECRET.into());
        v.insert("PUSH_RETRY_BASE_MS".into(), "10".into());
        v.extend(extra);
    })
    .await;
    (app, gateway)
}

async fn settings(app: &TestApp, user: &str, conversation: &str, body: Value) {
    app.call(
        Method::PATCH,
        &format!("/api/v1/conversations/{conversation}/settings"),
        user,
        Some(body),
    )
    .await
    .expect(200);
}

async fn send(app: &TestApp, user: &str, conversation: &str, body: Value) -> Value {
    let mut body = body;
    body["conversation_id"] = conversation.into();
    body["type"] = "text".into();
    let r = app.post("/api/v1/messages", user, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.data().clone()
}

fn recipients(list: &[PushRecipient]) -> Vec<(&str, i64)> {
    list.iter().map(|r| (r.user_id.as_str(), r.badge)).collect()
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}_total ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name}_total not in /metrics"))
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn exactly_the_offline_members_whose_settings_allow_it(pool: PgPool) {
    let (app, gateway) = spawn(pool, &[]).await;
    let team = app
        .conversation("alice", "group", &["bob", "carol", "dave", "erin", "frank"])
        .await;
    // bob: level all; carol and dave: mentions only; erin: muted; frank: online
    settings(
        &app,
        "carol",
        &team,
        json!({"notification_level": "mentions"}),
    )
    .await;
    settings(
        &app,
        "dave",
        &team,
        json!({"notification_level": "mentions"}),
    )
    .await;
    settings(
        &app,
        "erin",
        &team,
        json!({"muted_until": "2999-01-01T00:00:00Z"}),
    )
    .await;
    app.report("DFW.0", &["frank"], &[]).await;

    let sent = send(
        &app,
        "alice",
        &team,
        json!({"content": "release at five, carol please check", "mentions": ["carol", "erin", "frank"]}),
    )
    .await;
    let events = gateway.standin.wait_for(1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let PushEvent {
        event_id,
        conversation_id,
        message_id,
        sender_id,
        preview,
        recipients: to,
        seq,
        conversation_title,
        ..
    } = &events[0];
    assert_eq!(event_id, sent["id"].as_str().unwrap());
    assert_eq!(message_id.to_string(), sent["id"].as_str().unwrap());
    assert_eq!(conversation_id.to_string(), team);
    assert_eq!(sender_id, "alice");
    assert_eq!(*seq, 1);
    assert_eq!(conversation_title.as_deref(), Some("Team"));
    assert_eq!(
        preview.as_deref(),
        Some("release at five, carol please check")
    );
    // carol mentioned; bob for every message; nobody muted, online, or the sender
    assert_eq!(recipients(&to.mentions), [("carol", 1)]);
    assert_eq!(recipients(&to.all), [("bob", 1)]);

    // a level of none silences even a mention; @all reaches mentions-only members
    settings(&app, "bob", &team, json!({"notification_level": "none"})).await;
    send(
        &app,
        "alice",
        &team,
        json!({"content": "everyone, lunch", "mentions_all": true, "mentions": ["bob"]}),
    )
    .await;
    let events = gateway.standin.wait_for(2).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        recipients(&events[1].recipients.mentions),
        [("carol", 2), ("dave", 2)]
    );
    assert!(events[1].recipients.all.is_empty());
    assert_eq!(gateway.standin.duplicates.load(Ordering::SeqCst), 0);

    // a poll is a message too: its question is the preview
    settings(&app, "bob", &team, json!({"notification_level": "all"})).await;
    let r = app
        .post(
            &format!("/api/v1/conversations/{team}/polls"),
            "alice",
            json!({"question": "Pizza or sushi?", "options": ["pizza", "sushi"]}),
        )
        .await;
    r.expect(201);
    let events = gateway.standin.wait_for(3).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].preview.as_deref(), Some("Pizza or sushi?"));
    assert_eq!(
        events[2].message_id.to_string(),
        r.data()["message"]["id"].as_str().unwrap()
    );
    assert!(events[2].recipients.mentions.is_empty());
    // carol and dave are at mentions, erin muted, frank online
    assert_eq!(recipients(&events[2].recipients.all), [("bob", 3)]);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn failures_are_retried_and_a_retried_send_is_not_pushed_again(pool: PgPool) {
    let (app, gateway) = spawn(pool, &[]).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    gateway.standin.fail_next(2);
    let first = send(
        &app,
        "alice",
        &dm,
        json!({"content": "one", "client_msg_id": "c-1"}),
    )
    .await;
    // the same send again answers the original and pushes nothing
    let again = send(
        &app,
        "alice",
        &dm,
        json!({"content": "one", "client_msg_id": "c-1"}),
    )
    .await;
    assert_eq!(first["id"], again["id"]);
    // a later message is the barrier: everything before it has been handled
    let barrier = send(&app, "alice", &dm, json!({"content": "two"})).await;
    let events = gateway.standin.wait_for(2).await;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            first["id"].as_str().unwrap(),
            barrier["id"].as_str().unwrap()
        ]
    );
    assert_eq!(events[1].recipients.all[0].badge, 2);
    assert_eq!(metric(&app, "push_retries").await, 2);
    assert_eq!(metric(&app, "push_events_sent").await, 2);
    assert_eq!(metric(&app, "push_batches_failed").await, 0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_full_queue_drops_and_counts_and_sends_never_wait(pool: PgPool) {
    // one message waits at a time; a failing gateway holds the task in its backoff
    let (app, gateway) = spawn(
        pool,
        &[
            ("PUSH_QUEUE_CAPACITY", "1"),
            ("PUSH_RETRY_BASE_MS", "60000"),
        ],
    )
    .await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    gateway.standin.fail_next(1);
    send(&app, "alice", &dm, json!({"content": "taken, then held"})).await;
    // the task has the first message once the gateway saw its first attempt
    for _ in 0..250 {
        if gateway.standin.requests.load(Ordering::SeqCst) >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(gateway.standin.requests.load(Ordering::SeqCst), 1);
    let started = std::time::Instant::now();
    send(&app, "alice", &dm, json!({"content": "queued"})).await;
    send(&app, "alice", &dm, json!({"content": "dropped"})).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(metric(&app, "push_messages_dropped").await, 1);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn without_a_url_nothing_is_pushed_and_the_secret_is_required(pool: PgPool) {
    let tms = tms_standin::spawn(tms_standin::Config::default()).await;
    let mut vars = common::test_env(&tms);
    vars.insert("PUSH_WEBHOOK_URL".into(), "http://127.0.0.1:9/push".into());
    let err = core_api::config::Config::from_map(&vars).unwrap_err();
    assert!(err.to_string().contains("PUSH_WEBHOOK_SECRET"), "{err}");
    vars.insert("PUSH_WEBHOOK_SECRET".into(), "short".into());
    assert!(core_api::config::Config::from_map(&vars).is_err());
    let app = TestApp::spawn(pool).await;
    assert!(!app.state.push.is_enabled());
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_conversation_with_previews_off_is_pushed_without_text(pool: PgPool) {
    let (app, gateway) = spawn(pool.clone(), &[]).await;
    let team = app.conversation("alice", "group", &["bob"]).await;
    let path = format!("/api/v1/conversations/{team}/privacy");
    let stored = || async {
        sqlx::query_scalar::<_, bool>("SELECT push_previews FROM conversations WHERE id = $1::uuid")
            .bind(&team)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let r = app.get(&path, "bob").await;
    r.expect(200);
    assert_eq!(r.data(), &json!({"push_previews": true}), "on by default");

    // refusals change nothing: a member who is not an admin, an outsider, bad bodies
    let off = json!({"push_previews": false});
    app.call(Method::PUT, &path, "bob", Some(off.clone()))
        .await
        .expect_error(403, "FORBIDDEN");
    app.call(Method::PUT, &path, "carol", Some(off.clone()))
        .await
        .expect_error(403, "FORBIDDEN");
    app.get(&path, "carol").await.expect_error(403, "FORBIDDEN");
    for bad in [
        json!({}),
        json!({"push_previews": "no"}),
        json!({"push_previews": false, "x": 1}),
    ] {
        let r = app
            .call(Method::PUT, &path, "alice", Some(bad.clone()))
            .await;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {}", r.body);
    }
    assert!(stored().await, "nothing changed");

    let r = app
        .call(Method::PUT, &path, "alice", Some(off.clone()))
        .await;
    r.expect(200);
    assert_eq!(r.data(), &off);
    assert!(!stored().await);
    assert_eq!(
        app.get(&path, "bob").await.data(),
        &off,
        "the same for every member"
    );

    send(&app, "alice", &team, json!({"content": "the secret plan"})).await;
    let events = gateway.standin.wait_for(1).await;
    assert_eq!(events[0].preview, None, "no text in the push");
    assert_eq!(
        recipients(&events[0].recipients.all),
        [("bob", 1)],
        "still pushed"
    );
}
