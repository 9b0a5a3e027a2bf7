//! `GET /metrics`: after known traffic the named series carry exact values
//! (per app: each test app has its own registry), and `METRICS_TOKEN` guards it.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

/// The value of one series, by its exact name and labels as exposed.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

#[track_caller]
fn expect(text: &str, series: &str, value: f64) {
    assert_eq!(sample(text, series), Some(value), "{series} in\n{text}");
}

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn requests_messages_pushes_tms_cache_limits_and_pools_are_exposed(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, |v| {
        v.insert("RATE_LIMIT_API_PER_MINUTE".into(), "12".into());
    })
    .await;
    let group = app.conversation("alice", "group", &["bob", "carol"]).await;
    app.send("alice", &group, "one").await;
    app.send("bob", &group, "two").await;
    // the edge sends one through the internal API
    let body = json!({"conversation_id": group, "type": "text", "content": "three"});
    app.internal(Method::POST, "/internal/v1/messages", "carol", &body)
        .await
        .expect(201);
    let path = format!("/api/v1/conversations/{group}/messages");
    app.get(&path, "bob").await.expect(200);
    // the member set is cached by a first membership check (no push lane
    // reads it any more: messages name gateways, not members)
    let membership = format!("/internal/v1/conversations/{group}/membership");
    app.internal(Method::GET, &membership, "bob", &serde_json::Value::Null)
        .await
        .expect(200);
    // a profile nobody asked for yet: from TMS first, then from the cache
    let before = scrape(&app, None).await.text().await.unwrap();
    app.get("/api/v1/users/dave", "bob").await.expect(200);
    app.get("/api/v1/users/dave", "bob").await.expect(200);
    // the edge's membership checks, from the cached member set
    for _ in 0..3 {
        app.internal(Method::GET, &membership, "bob", &serde_json::Value::Null)
            .await
            .expect(200);
    }
    let after = scrape(&app, None).await.text().await.unwrap();
    let grew = |series: &str| {
        sample(&after, series).unwrap_or(0.0) - sample(&before, series).unwrap_or(0.0)
    };
    // bob's own profile is cached by now: the GETs' only lookups are dave's
    assert_eq!(grew(r#"tms_requests_total{op="user",outcome="ok"}"#), 1.0);
    assert_eq!(
        grew(r#"tms_request_duration_seconds_count{op="user"}"#),
        1.0
    );
    assert_eq!(
        grew(r#"cache_lookups_total{cache="profile",result="miss"}"#),
        1.0
    );
    assert_eq!(
        grew(r#"cache_lookups_total{cache="profile",result="hit"}"#),
        1.0
    );
    assert_eq!(
        grew(r#"cache_lookups_total{cache="membership",result="hit"}"#),
        3.0
    );
    app.get("/api/v1/no-such-route", "bob").await.expect(404);
    // erin spends her budget of 12, and one more is refused
    for _ in 0..12 {
        app.get("/api/v1/auth/me", "erin").await.expect(200);
    }
    app.get("/api/v1/auth/me", "erin")
        .await
        .expect_error(429, "RATE_LIMITED");
    // the three sends reached the edge stand-in
    edge.wait_for("new_message", 3).await;

    let resp = scrape(&app, None).await;
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();

    // by route pattern, never the raw path (no ids in labels)
    let sends = r#"{method="POST",route="/api/v1/messages",status="201"}"#;
    expect(&text, &format!("http_requests_total{sends}"), 2.0);
    let list = r#"{method="GET",route="/api/v1/conversations/{id}/messages",status="200"}"#;
    expect(&text, &format!("http_requests_total{list}"), 1.0);
    let internal = r#"{method="POST",route="/internal/v1/messages",status="201"}"#;
    expect(&text, &format!("http_requests_total{internal}"), 1.0);
    let unmatched = r#"{method="GET",route="unmatched",status="404"}"#;
    expect(&text, &format!("http_requests_total{unmatched}"), 1.0);
    let me_429 = r#"{method="GET",route="/api/v1/auth/me",status="429"}"#;
    expect(&text, &format!("http_requests_total{me_429}"), 1.0);
    assert!(!text.contains(&group), "a raw path leaked into a label");
    let latency = r#"http_request_duration_seconds_count{method="POST",route="/api/v1/messages"}"#;
    expect(&text, latency, 2.0);
    assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.001",method="POST",route="/api/v1/messages"}"#)
        || text.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/api/v1/messages",le="0.001"}"#),
        "latency buckets:\n{text}");

    expect(&text, "messages_persisted_total", 3.0);
    assert!(sample(&text, "fanout_events_sent_total").unwrap() >= 3.0);
    assert!(sample(&text, "fanout_batches_sent_total").unwrap() >= 1.0);
    expect(&text, "fanout_batches_failed_total", 0.0);
    expect(&text, "fanout_events_dropped_total", 0.0);

    // creating the group asked TMS for bob and carol in one batch
    assert!(
        sample(
            &text,
            r#"tms_requests_total{op="users_batch",outcome="ok"}"#
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        sample(&text, r#"tms_requests_total{op="user",outcome="error"}"#),
        None
    );

    expect(&text, r#"rate_limit_rejections_total{kind="api"}"#, 1.0);
    assert_eq!(
        sample(&text, r#"rate_limit_unenforced_total{kind="api"}"#),
        None
    );

    let max = sample(&text, r#"db_pool_max_connections{pool="main"}"#).unwrap();
    assert!(max >= 1.0);
    let idle = sample(&text, r#"db_pool_connections{pool="main",state="idle"}"#).unwrap();
    let in_use = sample(&text, r#"db_pool_connections{pool="main",state="in_use"}"#).unwrap();
    assert!(
        idle + in_use >= 1.0 && idle + in_use <= max,
        "idle {idle} in use {in_use}"
    );
    assert!(sample(&text, r#"db_pool_connections{pool="sends",state="idle"}"#).is_some());
    expect(&text, "redis_up", 1.0);

    // scrapes are counted too (each seen by the next one)
    let text = scrape(&app, None).await.text().await.unwrap();
    let scrapes = r#"{method="GET",route="/metrics",status="200"}"#;
    expect(&text, &format!("http_requests_total{scrapes}"), 3.0);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_metrics_token_is_required_when_configured(pool: PgPool) {
    const TOKEN: &str = "scrape-token-0123456789abcdef";
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("METRICS_TOKEN".into(), TOKEN.into());
    })
    .await;
    let missing = TestApp::read(scrape(&app, None).await).await;
    missing.expect_error(401, "TOKEN_MISSING");
    let wrong = TestApp::read(scrape(&app, Some("scrape-token-0123456789abcdeX")).await).await;
    wrong.expect_error(401, "INTERNAL_AUTH_FAILED");
    assert!(
        !wrong.body.to_string().contains(TOKEN),
        "no secret in the body"
    );
    // a TMS JWT is no metrics token
    let jwt = app.token("alice");
    TestApp::read(scrape(&app, Some(&jwt)).await)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    let ok = scrape(&app, Some(TOKEN)).await;
    assert_eq!(ok.status(), 200);
    let text = ok.text().await.unwrap();
    expect(&text, "redis_up", 1.0);
    let refused = r#"{method="GET",route="/metrics",status="401"}"#;
    expect(&text, &format!("http_requests_total{refused}"), 3.0);
}
