//! Files: upload URLs (rules per kind, keys namespaced to the user, the
//! signed URL binding type, length and expiry), the attachment rule of sends
//! (REST and the edge's internal path) and signed GET URLs in every message
//! answer. No call reaches OSS: signatures are checked with the same
//! `shared_auth::oss_sig` code the OSS stand-in uses.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use common::TestApp;
use core_api::clock::ManualClock;
use percent_encoding::percent_decode_str;
use reqwest::Method;
use serde_json::{json, Value};
use shared_auth::oss_sig::{self, OssSigError, Received};
use sqlx::PgPool;

const BUCKET: &str = "teamchat-test";
const ENDPOINT: &str = "http://127.0.0.1:9";
const REGION: &str = "test-region";
const KEY_ID: &str = "test-key-id";
const SECRET: &str = "test-oss-secret";

fn oss_vars(v: &mut HashMap<String, String>) {
    for (k, val) in [
        ("OSS_ACCESS_KEY_ID", KEY_ID),
        ("OSS_ACCESS_KEY_SECRET", SECRET),
        ("OSS_BUCKET_NAME", BUCKET),
        ("OSS_ENDPOINT", ENDPOINT),
        ("OSS_REGION", REGION),
        ("OSS_URL_STYLE", "path"),
    ] {
        v.insert(k.into(), val.into());
    }
}

/// The app with OSS configured, on a clock that stands still (whole seconds).
async fn spawn(pool: PgPool) -> (TestApp, DateTime<Utc>) {
    let now = Utc::now().trunc_subsecs(0);
    let app = TestApp::spawn_full(pool, oss_vars, Arc::new(ManualClock::at(now))).await;
    (app, now)
}

fn upload_body(kind: &str, content_type: &str, size: i64, filename: &str) -> Value {
    json!({"kind": kind, "content_type": content_type, "size": size, "filename": filename})
}

async fn upload(app: &TestApp, user: &str, kind: &str, content_type: &str, size: i64) -> Value {
    let r = app
        .post(
            "/api/v1/files/upload-url",
            user,
            upload_body(kind, content_type, size, "cat.png"),
        )
        .await;
    r.expect(200);
    r.data().clone()
}

/// Checks a signed URL of the test bucket as OSS would for a request with `headers`.
fn verify(
    url: &str,
    method: &str,
    headers: &[(&str, &str)],
    now: i64,
) -> Result<oss_sig::Verified, OssSigError> {
    let (path, query) = url.split_once('?').expect("a signed URL has a query");
    let prefix = format!("{ENDPOINT}/{BUCKET}/");
    let key = percent_decode_str(
        path.strip_prefix(&prefix)
            .expect("path style URL of the bucket"),
    )
    .decode_utf8()
    .unwrap()
    .into_owned();
    let decode = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
    let query: Vec<(String, String)> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let received = Received {
        method,
        bucket: BUCKET,
        key: &key,
        query: &query,
        headers: &headers,
    };
    oss_sig::verify(&received, REGION, now, |id| {
        (id == KEY_ID).then(|| SECRET.to_string())
    })
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

fn image_message(conversation: &str, key: &str, size: i64) -> Value {
    json!({"conversation_id": conversation, "type": "image", "content": "look",
           "attachment": {"object_key": key, "content_type": "image/png", "size_bytes": size,
                          "file_name": "cat.png", "width": 640, "height": 480}})
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn upload_url_binds_type_length_and_expiry_under_the_users_namespace(pool: PgPool) {
    let (app, now) = spawn(pool).await;
    let r = app
        .post(
            "/api/v1/files/upload-url",
            "alice",
            upload_body("image", "Image/PNG", 1234, "My Cat (1).png"),
        )
        .await;
    r.expect(200);
    let d = r.data();
    let key = d["object_key"].as_str().unwrap();
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 4, "{key}");
    assert_eq!(
        (parts[0], parts[1], parts[3]),
        ("u", "alice", "My_Cat_1_.png")
    );
    assert!(uuid::Uuid::parse_str(parts[2]).is_ok(), "{key}");
    assert_eq!(d["method"], "PUT");
    assert_eq!(d["headers"], json!({"Content-Type": "image/png"}));
    let expires_at: DateTime<Utc> = d["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at, now + chrono::Duration::seconds(300));

    let url = d["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{ENDPOINT}/{BUCKET}/{key}?")),
        "{url}"
    );
    assert!(url.contains("x-oss-expires=300&"), "{url}");
    let t = now.timestamp();
    let good = [("Content-Type", "image/png"), ("Content-Length", "1234")];
    let verified = verify(url, "PUT", &good, t + 299).expect("a valid upload URL");
    assert_eq!(verified.expires_at_unix, expires_at.timestamp());
    // the type and length are bound, the URL expires, and it is for PUT only
    let mismatch = Err(OssSigError::SignatureMismatch);
    assert_eq!(
        verify(
            url,
            "PUT",
            &[("Content-Type", "image/jpeg"), ("Content-Length", "1234")],
            t
        ),
        mismatch
    );
    assert_eq!(
        verify(
            url,
            "PUT",
            &[("Content-Type", "image/png"), ("Content-Length", "99999")],
            t
        ),
        mismatch
    );
    assert_eq!(verify(url, "GET", &good, t), mismatch);
    assert_eq!(
        verify(url, "PUT", &good, t + 301),
        Err(OssSigError::Expired)
    );

    // the key is recorded as issued to alice, with its kind, type and size
    let row: (String, String, String, i64) = sqlx::query_as(
        "SELECT u.tms_user_id, f.kind, f.content_type, f.size_bytes
           FROM file_uploads f JOIN users u ON u.id = f.user_id WHERE f.object_key = $1",
    )
    .bind(key)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        ("alice".into(), "image".into(), "image/png".into(), 1234)
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_uploads_are_refused_and_nothing_is_issued(pool: PgPool) {
    let (app, _) = spawn(pool).await;
    let ten_mib = 10 * 1024 * 1024;
    let cases = [
        // type: outside the kind's allowlist (415), or not a bare media type (422)
        (
            upload_body("image", "text/html", 10, "a.html"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            upload_body("voice", "image/png", 10, "a.png"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            upload_body("image", "image/png; q=1", 10, "a.png"),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("image", "png", 10, "a.png"),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("video", "video/mp4", 10, "a.mp4"),
            422,
            "VALIDATION_ERROR",
        ),
        // size: over the kind's limit (413), or not a positive integer (422)
        (
            upload_body("image", "image/png", ten_mib + 1, "a.png"),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            upload_body("image", "image/png", 0, "a.png"),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("image", "image/png", -5, "a.png"),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"kind": "image", "content_type": "image/png", "size": "big", "filename": "a.png"}),
            422,
            "VALIDATION_ERROR",
        ),
        // file names: blank, nothing usable, control characters, too long, missing
        (
            upload_body("image", "image/png", 10, "   "),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("image", "image/png", 10, "..."),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("image", "image/png", 10, "a\u{0}b.png"),
            422,
            "VALIDATION_ERROR",
        ),
        (
            upload_body("image", "image/png", 10, &"a".repeat(256)),
            422,
            "VALIDATION_ERROR",
        ),
        (
            json!({"kind": "image", "content_type": "image/png", "size": 10}),
            422,
            "VALIDATION_ERROR",
        ),
    ];
    for (body, status, code) in cases {
        let r = app
            .post("/api/v1/files/upload-url", "alice", body.clone())
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{body}: {}",
            r.body
        );
        r.expect(status);
    }
    // the refusals say what would be accepted
    let r = app
        .post(
            "/api/v1/files/upload-url",
            "alice",
            upload_body("image", "text/html", 10, "a"),
        )
        .await;
    assert!(r.body["error"]["details"]["allowed"]
        .as_array()
        .unwrap()
        .contains(&json!("image/png")));
    let r = app
        .post(
            "/api/v1/files/upload-url",
            "alice",
            upload_body("image", "image/png", ten_mib + 1, "a"),
        )
        .await;
    assert_eq!(r.body["error"]["details"]["max_bytes"], ten_mib);
    // exactly the limit is fine
    upload(&app, "alice", "image", "image/png", ten_mib).await;
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM file_uploads").await,
        1
    );

    // no token, no URL
    let r = app
        .raw(
            Method::POST,
            "/api/v1/files/upload-url",
            None,
            Some(&upload_body("image", "image/png", 10, "a.png")),
        )
        .await;
    r.expect_error(401, "TOKEN_MISSING");
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM file_uploads").await,
        1
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn without_oss_uploads_are_503_and_attachments_have_no_url(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.post(
        "/api/v1/files/upload-url",
        "alice",
        upload_body("image", "image/png", 10, "a.png"),
    )
    .await
    .expect_error(503, "STORAGE_NOT_CONFIGURED");
    // a key issued while OSS was configured still makes a message, without a url
    let alice: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE tms_user_id = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO file_uploads (object_key, user_id, kind, content_type, size_bytes) VALUES ('u/alice/k/a.png', $1, 'image', 'image/png', 10)")
        .bind(alice)
        .execute(&app.pool)
        .await
        .unwrap();
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let r = app
        .post(
            "/api/v1/messages",
            "alice",
            image_message(&dm, "u/alice/k/a.png", 10),
        )
        .await;
    r.expect(201);
    assert_eq!(r.data()["attachment"]["object_key"], "u/alice/k/a.png");
    assert!(r.data()["attachment"].get("url").is_none(), "{}", r.body);
    // and oss_url cannot be checked against a bucket
    let by_url = json!({"conversation_id": dm, "type": "image", "attachment": {"oss_url": "http://x/b/k", "content_type": "image/png", "size_bytes": 10}});
    app.post("/api/v1/messages", "alice", by_url)
        .await
        .expect_error(503, "STORAGE_NOT_CONFIGURED");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn only_keys_issued_to_the_sender_are_accepted(pool: PgPool) {
    let (app, _) = spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let bobs = upload(&app, "bob", "image", "image/png", 100).await;
    let bobs_key = bobs["object_key"].as_str().unwrap();
    let alices = upload(&app, "alice", "image", "image/png", 100).await;
    let alices_key = alices["object_key"].as_str().unwrap();
    let voice = upload(&app, "alice", "voice", "audio/ogg", 100).await;

    let forbidden = [
        image_message(&dm, "u/alice/made-up/cat.png", 100),
        image_message(&dm, bobs_key, 100),
    ];
    for body in &forbidden {
        // over REST and over the edge's internal send path (a socket's send_message)
        app.post("/api/v1/messages", "alice", body.clone())
            .await
            .expect_error(403, "FORBIDDEN");
        app.internal(Method::POST, "/internal/v1/messages", "alice", body)
            .await
            .expect_error(403, "FORBIDDEN");
    }
    let mismatched = [
        // the issued type or size, and the issued kind
        image_message(&dm, alices_key, 101),
        json!({"conversation_id": dm, "type": "image", "attachment": {"object_key": alices_key, "content_type": "image/jpeg", "size_bytes": 100}}),
        json!({"conversation_id": dm, "type": "voice", "attachment": {"object_key": alices_key, "content_type": "image/png", "size_bytes": 100}}),
        json!({"conversation_id": dm, "type": "image", "attachment": {"object_key": voice["object_key"], "content_type": "audio/ogg", "size_bytes": 100}}),
        // a key and a URL at once
        json!({"conversation_id": dm, "type": "image", "attachment": {"object_key": alices_key, "oss_url": format!("{ENDPOINT}/{BUCKET}/{alices_key}"), "content_type": "image/png", "size_bytes": 100}}),
    ];
    for body in &mismatched {
        let r = app.post("/api/v1/messages", "alice", body.clone()).await;
        r.expect_error(422, "VALIDATION_ERROR");
    }
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM messages").await,
        0,
        "nothing stored"
    );

    // the owner's key works, over REST and through the edge; a client's url is never stored
    let mut body = image_message(&dm, alices_key, 100);
    body["attachment"]["url"] = json!("https://evil.example/x.png");
    app.post("/api/v1/messages", "alice", body.clone())
        .await
        .expect(201);
    app.internal(Method::POST, "/internal/v1/messages", "alice", &body)
        .await
        .expect(201);
    let stored: Vec<Value> = sqlx::query_scalar("SELECT attachment FROM messages ORDER BY seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for a in stored {
        assert_eq!(a["object_key"], alices_key);
        assert!(a.get("url").is_none() && a.get("oss_url").is_none(), "{a}");
        assert_eq!(
            (a["width"].as_i64(), a["file_name"].as_str()),
            (Some(640), Some("cat.png"))
        );
    }
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn oss_url_of_this_bucket_names_an_issued_key(pool: PgPool) {
    let (app, _) = spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let up = upload(&app, "alice", "image", "image/png", 100).await;
    let key = up["object_key"].as_str().unwrap();
    let bobs = upload(&app, "bob", "image", "image/png", 100).await;
    let by_url = |url: String| json!({"conversation_id": dm, "type": "image", "attachment": {"oss_url": url, "content_type": "image/png", "size_bytes": 100}});

    // the signed upload URL itself, or the bare object URL
    let r = app
        .post(
            "/api/v1/messages",
            "alice",
            by_url(up["upload_url"].as_str().unwrap().into()),
        )
        .await;
    r.expect(201);
    assert_eq!(r.data()["attachment"]["object_key"], key);
    assert!(r.data()["attachment"].get("oss_url").is_none());
    let bare = format!("{ENDPOINT}/{BUCKET}/{}", oss_sig::encode_path(key));
    app.post("/api/v1/messages", "alice", by_url(bare))
        .await
        .expect(201);

    // another bucket or host is not this service's object; bob's object is not alice's
    for other in [
        format!("{ENDPOINT}/other-bucket/{key}"),
        format!("https://evil.example/{BUCKET}/{key}"),
        "not a url".to_string(),
    ] {
        app.post("/api/v1/messages", "alice", by_url(other))
            .await
            .expect_error(422, "VALIDATION_ERROR");
    }
    app.post(
        "/api/v1/messages",
        "alice",
        by_url(bobs["upload_url"].as_str().unwrap().into()),
    )
    .await
    .expect_error(403, "FORBIDDEN");
    assert_eq!(count(&app.pool, "SELECT count(*) FROM messages").await, 2);
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn message_answers_and_events_carry_a_signed_get_url(pool: PgPool) {
    let (app, edge) = TestApp::spawn_with_edge(pool, oss_vars).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    app.report("DFW.0", &["bob"], &[]).await;
    let up = upload(&app, "alice", "image", "image/png", 100).await;
    let key = up["object_key"].as_str().unwrap().to_string();
    let sent = app
        .post("/api/v1/messages", "alice", image_message(&dm, &key, 100))
        .await;
    sent.expect(201);
    let id = sent.data()["id"].as_str().unwrap().to_string();

    let check = |what: &str, a: &Value| {
        let url = a["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no url in {a}"));
        let t = Utc::now().timestamp();
        verify(url, "GET", &[], t).unwrap_or_else(|e| panic!("{what}: {e} for {url}"));
        let expires: DateTime<Utc> = a["url_expires_at"].as_str().unwrap().parse().unwrap();
        assert!(
            (expires.timestamp() - t - 900).abs() <= 5,
            "{what}: 900 s, got {expires}"
        );
        assert_eq!(a["object_key"], key.as_str(), "{what}");
    };
    check("send answer", &sent.data()["attachment"]);
    let one = app.get(&format!("/api/v1/messages/{id}"), "bob").await;
    check("GET /messages/{id}", &one.expect(200).data()["attachment"]);
    let page = app
        .get(&format!("/api/v1/conversations/{dm}/messages"), "bob")
        .await;
    check("message page", &page.expect(200).data()[0]["attachment"]);
    let catch_up = app
        .get(
            &format!("/api/v1/conversations/{dm}/messages?after_seq=0"),
            "bob",
        )
        .await;
    check("catch-up", &catch_up.expect(200).data()[0]["attachment"]);
    let list = app.get("/api/v1/conversations", "bob").await;
    check(
        "conversation list",
        &list.expect(200).data()[0]["last_message"]["attachment"],
    );
    let pushed = edge.wait_for("new_message", 1).await;
    check("live new_message", &pushed[0]["data"]["attachment"]);
    // a socket's send gets the url in its ack as well
    let acked = app
        .internal(
            Method::POST,
            "/internal/v1/messages",
            "alice",
            &image_message(&dm, &key, 100),
        )
        .await;
    check(
        "socket ack",
        &acked.expect(201).data()["message"]["attachment"],
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_refused_key_fails_only_its_own_send_in_a_batch(pool: PgPool) {
    let (app, _) = spawn(pool).await;
    let app = Arc::new(app);
    let group = app.conversation("alice", "group", &["bob"]).await;
    let key = upload(&app, "alice", "image", "image/png", 100).await["object_key"]
        .as_str()
        .unwrap()
        .to_string();
    // 20 concurrent sends into one conversation: every third names a key never issued
    let sends = (0..20).map(|i| {
        let (app, group, key) = (app.clone(), group.clone(), key.clone());
        tokio::spawn(async move {
            let key = if i % 3 == 0 {
                format!("u/alice/forged-{i}/x.png")
            } else {
                key
            };
            let r = app
                .post(
                    "/api/v1/messages",
                    "alice",
                    image_message(&group, &key, 100),
                )
                .await;
            (i, r.status.as_u16())
        })
    });
    let mut answers = Vec::new();
    for s in sends {
        answers.push(s.await.unwrap());
    }
    for (i, status) in &answers {
        assert_eq!(*status, if i % 3 == 0 { 403 } else { 201 }, "send {i}");
    }
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM messages ORDER BY seq")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        seqs,
        (1..=13).collect::<Vec<i64>>(),
        "the 13 good sends, gap-free"
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn the_sixth_upload_url_in_a_minute_is_429(pool: PgPool) {
    let now = Utc::now().trunc_subsecs(0);
    let with_the_real_limit = |v: &mut HashMap<String, String>| {
        oss_vars(v);
        v.insert("RATE_LIMIT_UPLOAD_URLS_PER_MINUTE".into(), "5".into());
    };
    let clock = ManualClock::at(now);
    let app = TestApp::spawn_full(pool, with_the_real_limit, Arc::new(clock.clone())).await;
    // refused input spends nothing
    app.post(
        "/api/v1/files/upload-url",
        "alice",
        upload_body("image", "text/html", 10, "a.png"),
    )
    .await
    .expect_error(415, "UNSUPPORTED_MEDIA_TYPE");
    for _ in 0..5 {
        upload(&app, "alice", "image", "image/png", 10).await;
    }
    let r = app
        .post(
            "/api/v1/files/upload-url",
            "alice",
            upload_body("image", "image/png", 10, "a.png"),
        )
        .await;
    r.expect_error(429, "RATE_LIMITED");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM file_uploads").await,
        5
    );
    // another user has a budget of their own
    upload(&app, "bob", "image", "image/png", 10).await;
    // one URL a minute comes back (GCRA: 5 per minute, burst 5)
    clock.advance(chrono::Duration::seconds(12));
    upload(&app, "alice", "image", "image/png", 10).await;
}
