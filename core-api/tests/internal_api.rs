//! The signed internal API: accepted when signed, refused when tampered,
//! stale or replayed, and never reachable with a TMS JWT alone. Identical
//! requests with different nonces are not replays.

mod common;

use common::{TestApp, INTERNAL_SECRET};
use reqwest::Method;
use serde_json::json;
use shared_auth::internal_sig;
use shared_types::internal::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use sqlx::PgPool;

/// A fresh nonce, as the edge and core generate one per request.
fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Signs and sends a request with a fresh nonce.
async fn signed(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    body: Option<serde_json::Value>,
    ts: i64,
) -> common::Reply {
    signed_with_nonce(app, method, path, user, body, ts, &nonce()).await
}

async fn signed_with_nonce(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    body: Option<serde_json::Value>,
    ts: i64,
    nonce: &str,
) -> common::Reply {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        method.as_str(),
        path,
        ts as u64,
        nonce,
        user,
        &bytes,
    );
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    TestApp::read(req.body(bytes).send().await.unwrap()).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn persist_and_membership_when_signed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let body = json!({"conversation_id": dm, "type": "text", "content": "via edge", "client_msg_id": "e-1"});
    let r = signed(
        &app,
        Method::POST,
        "/internal/v1/messages",
        "bob",
        Some(body.clone()),
        now(),
    )
    .await;
    r.expect(201);
    assert_eq!(r.data()["created"], true);
    assert_eq!(r.data()["message"]["sender_id"], "bob");
    assert_eq!(r.data()["message"]["seq"], 1);
    // a retry through the edge (same second, same client id, fresh nonce) returns the original
    let again = signed(
        &app,
        Method::POST,
        "/internal/v1/messages",
        "bob",
        Some(body),
        now(),
    )
    .await;
    again.expect(200);
    assert_eq!(again.data()["created"], false);
    assert_eq!(again.data()["message"]["id"], r.data()["message"]["id"]);

    let path = format!("/internal/v1/conversations/{dm}/membership");
    let yes = signed(&app, Method::GET, &path, "alice", None, now()).await;
    yes.expect(200);
    assert_eq!(yes.data()["is_member"], true);
    let no = signed(&app, Method::GET, &path, "carol", None, now()).await;
    no.expect(200);
    assert_eq!(no.data()["is_member"], false);
    // carol cannot persist into it either
    let body = json!({"conversation_id": dm, "content": "intrude"});
    signed(
        &app,
        Method::POST,
        "/internal/v1/messages",
        "carol",
        Some(body),
        now(),
    )
    .await
    .expect_error(403, "FORBIDDEN");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn bad_stale_replayed_and_jwt_only_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let path = format!("/internal/v1/conversations/{dm}/membership");

    // a TMS JWT alone is not enough
    app.get(&path, "alice")
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    app.raw(Method::GET, &path, None, None)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    // stale in both directions
    signed(&app, Method::GET, &path, "alice", None, now() - 120)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    signed(&app, Method::GET, &path, "alice", None, now() + 120)
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    // tampered: signed for bob, sent as alice
    let ts = now() as u64;
    let mut headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        "GET",
        &path,
        ts,
        &nonce(),
        "bob",
        b"",
    );
    let send = |headers: &[(&'static str, String)]| {
        let mut req = app.http.get(format!("{}{path}", app.base));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req.send()
    };
    let user_slot = headers
        .iter()
        .position(|(k, _)| *k == shared_types::internal::HEADER_USER)
        .unwrap();
    headers[user_slot].1 = "alice".into();
    TestApp::read(send(&headers).await.unwrap())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    // a nonce changed after signing is refused
    let mut headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        "GET",
        &path,
        ts,
        &nonce(),
        "alice",
        b"",
    );
    let nonce_slot = headers
        .iter()
        .position(|(k, _)| *k == HEADER_NONCE)
        .unwrap();
    headers[nonce_slot].1 = nonce();
    TestApp::read(send(&headers).await.unwrap())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    // and so is a request without one, or with a malformed one
    let without_nonce: Vec<_> = headers
        .iter()
        .filter(|(k, _)| *k != HEADER_NONCE)
        .cloned()
        .collect();
    TestApp::read(send(&without_nonce).await.unwrap())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    let short = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        "GET",
        &path,
        ts,
        "short",
        "alice",
        b"",
    );
    TestApp::read(send(&short).await.unwrap())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");

    // replay: the SAME headers sent twice; the first use passes, the second is refused
    let headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        "GET",
        &path,
        ts,
        &nonce(),
        "alice",
        b"",
    );
    TestApp::read(send(&headers).await.unwrap())
        .await
        .expect(200);
    let replay = TestApp::read(send(&headers).await.unwrap()).await;
    replay.expect_error(401, "INTERNAL_AUTH_FAILED");
    assert_eq!(
        replay.body["error"]["message"], "internal authentication failed",
        "no detail leaks"
    );

    // a body changed after signing is refused and nothing is stored
    let body = json!({"conversation_id": dm, "content": "original"}).to_string();
    let headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        "POST",
        "/internal/v1/messages",
        now() as u64,
        &nonce(),
        "alice",
        body.as_bytes(),
    );
    let mut req = app
        .http
        .post(format!("{}/internal/v1/messages", app.base))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let tampered = json!({"conversation_id": dm, "content": "tampered"}).to_string();
    TestApp::read(req.body(tampered).send().await.unwrap())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// The edge forwards `/api/v1` with the signed identity instead of the JWT.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn public_routes_accept_the_signed_identity(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let body = json!({"conversation_id": dm, "type": "text", "content": "proxied"});
    let r = signed(
        &app,
        Method::POST,
        "/api/v1/messages",
        "bob",
        Some(body),
        now(),
    )
    .await;
    r.expect(201);
    assert_eq!(r.data()["sender_id"], "bob");
    let path = format!("/api/v1/conversations/{dm}/messages?after_seq=0");
    let list = signed(&app, Method::GET, &path, "alice", None, now()).await;
    list.expect(200);
    assert_eq!(list.data()[0]["content"], "proxied");
    // a system signature (no acting user) is no identity on public routes
    signed(&app, Method::GET, &path, "", None, now())
        .await
        .expect_error(401, "INTERNAL_AUTH_FAILED");
}

/// The bug the nonce fixes: two legitimate requests identical except for the
/// nonce, signed in the same second (two clicks proxied through the edge, or a
/// retry), are both accepted: neither is taken for a replay of the other.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn identical_requests_in_the_same_second_are_not_replays(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ts = now();
    let body = json!({"type": "direct", "member_ids": ["bob"]});
    let first = signed_with_nonce(
        &app,
        Method::POST,
        "/api/v1/conversations",
        "alice",
        Some(body.clone()),
        ts,
        &nonce(),
    )
    .await;
    first.expect(201);
    let second = signed_with_nonce(
        &app,
        Method::POST,
        "/api/v1/conversations",
        "alice",
        Some(body),
        ts,
        &nonce(),
    )
    .await;
    second.expect(200);
    assert_eq!(second.data()["id"], first.data()["id"]);

    // the same on the internal routes
    let path = format!(
        "/internal/v1/conversations/{}/membership",
        first.data()["id"].as_str().unwrap()
    );
    for _ in 0..2 {
        signed_with_nonce(&app, Method::GET, &path, "alice", None, ts, &nonce())
            .await
            .expect(200);
    }
}

/// Whatever check fails (headers missing, malformed, stale, wrong signature),
/// the caller gets the same status and the same body: nothing says which.
#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn every_failure_gets_the_same_opaque_answer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dm = app.conversation("alice", "direct", &["bob"]).await;
    let path = format!("/internal/v1/conversations/{dm}/membership");
    let send = |headers: Vec<(&'static str, String)>| {
        let mut req = app.http.get(format!("{}{path}", app.base));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let r = TestApp::read(req.send().await.unwrap()).await;
            (r.status.as_u16(), r.body)
        }
    };
    let good = |ts: u64, nonce: &str| {
        internal_sig::signed_headers(
            INTERNAL_SECRET.as_bytes(),
            "GET",
            &path,
            ts,
            nonce,
            "alice",
            b"",
        )
        .to_vec()
    };
    let ts = now() as u64;
    let replace = |mut headers: Vec<(&'static str, String)>, name: &str, value: &str| {
        for (k, v) in headers.iter_mut() {
            if *k == name {
                *v = value.to_string();
            }
        }
        headers
    };
    let missing = Vec::new();
    let malformed = replace(good(ts, &nonce()), HEADER_TIMESTAMP, "yesterday");
    let stale = good(ts - 600, &nonce());
    let bad_signature = replace(good(ts, &nonce()), HEADER_SIGNATURE, &"0".repeat(64));
    // the control: the same request signed right is accepted
    assert_eq!(send(good(ts, &nonce())).await.0, 200);
    let answers = [
        send(missing).await,
        send(malformed).await,
        send(stale).await,
        send(bad_signature).await,
    ];
    assert_eq!(answers[0].0, 401, "{:?}", answers[0]);
    assert_eq!(answers[0].1["error"]["code"], "INTERNAL_AUTH_FAILED");
    for answer in &answers[1..] {
        assert_eq!(answer, &answers[0]);
    }
}

/// The batch of a gateway: `(user, content)` pairs as text sends.
fn batch(conversation: &str, sends: &[(&str, &str)]) -> serde_json::Value {
    let sends: Vec<_> = sends
        .iter()
        .map(|(user, content)| {
            json!({"user_id": user, "message": {"conversation_id": conversation, "type": "text", "content": content, "client_msg_id": content}})
        })
        .collect();
    json!({ "sends": sends })
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_batch_answers_each_send_in_order_and_keeps_each_senders_order(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    let body = batch(
        &group,
        &[
            ("alice", "a-1"),
            ("bob", "b-1"),
            ("alice", "a-2"),
            ("carol", "intruder"),
            ("bob", " "),
            ("alice", "a-3"),
            ("bob", "b-2"),
        ],
    );
    let r = app
        .internal(Method::POST, "/internal/v1/messages/batch", "", &body)
        .await;
    r.expect(200);
    let results = r.data()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 7);
    let content = |i: usize| results[i]["data"]["message"]["content"].clone();
    let seq = |i: usize| results[i]["data"]["message"]["seq"].as_i64().unwrap();
    for (i, expected) in [(0, "a-1"), (1, "b-1"), (2, "a-2"), (5, "a-3"), (6, "b-2")] {
        assert_eq!(results[i]["success"], true, "send {i}: {}", results[i]);
        assert_eq!(content(i), expected);
        assert_eq!(results[i]["data"]["created"], true);
    }
    assert!(
        seq(0) < seq(2) && seq(2) < seq(5),
        "alice's sends in her order"
    );
    assert!(seq(1) < seq(6), "bob's sends in his order");
    assert_eq!(
        results[3]["error"]["code"], "FORBIDDEN",
        "carol is no member"
    );
    assert_eq!(results[4]["error"]["code"], "VALIDATION_ERROR");
    let mut seqs: Vec<i64> = [0, 1, 2, 5, 6].iter().map(|i| seq(*i)).collect();
    seqs.sort();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "gap-free");
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.tms_user_id, m.content FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.conversation_id = $1::uuid ORDER BY m.seq",
    )
    .bind(&group)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 5, "only the accepted sends: {stored:?}");

    // the same batch again (an edge retry): the originals, nothing new
    let again = app
        .internal(Method::POST, "/internal/v1/messages/batch", "", &body)
        .await;
    again.expect(200);
    assert_eq!(again.data()["results"][0]["data"]["created"], false);
    assert_eq!(
        again.data()["results"][0]["data"]["message"]["id"],
        results[0]["data"]["message"]["id"]
    );
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn a_batch_is_a_system_call_with_a_bounded_size(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let group = app.conversation("alice", "group", &["bob"]).await;
    let path = "/internal/v1/messages/batch";
    // signed on a user's behalf: refused, nothing stored
    app.internal(
        Method::POST,
        path,
        "alice",
        &batch(&group, &[("alice", "x")]),
    )
    .await
    .expect_error(401, "INTERNAL_AUTH_FAILED");
    // unsigned: refused
    app.raw(
        Method::POST,
        path,
        None,
        Some(&batch(&group, &[("alice", "y")])),
    )
    .await
    .expect_error(401, "INTERNAL_AUTH_FAILED");
    let names: Vec<String> = (0..=shared_types::internal::MAX_BATCHED_SENDS)
        .map(|i| format!("m-{i}"))
        .collect();
    let too_many: Vec<(&str, &str)> = names.iter().map(|n| ("alice", n.as_str())).collect();
    app.internal(Method::POST, path, "", &batch(&group, &too_many))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    app.internal(Method::POST, path, "", &json!({"sends": "no"}))
        .await
        .expect_error(422, "VALIDATION_ERROR");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}
