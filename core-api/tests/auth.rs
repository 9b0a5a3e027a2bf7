//! TMS JWT rules at the HTTP boundary: each rejection is a 401 with its own code.

mod common;

use std::sync::Arc;

use common::TestApp;
use core_api::clock::{Clock, ManualClock, SystemClock};
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use tms_standin::{TokenAlg, TokenRequest};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(secret: &str, claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn me(app: &TestApp, token: &str) -> common::Reply {
    app.raw(Method::GET, "/api/v1/auth/me", Some(token), None)
        .await
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn hs256_rules(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |v| {
        v.insert("JWT_ISSUER".into(), "tms".into());
        v.insert("JWT_AUDIENCE".into(), "chat".into());
    })
    .await;
    let secret = app.tms.config().jwt_secret.clone();
    let good = json!({"sub": "alice", "exp": now() + 600, "iss": "tms", "aud": "chat"});

    let ok = me(&app, &hs256(&secret, good.clone())).await;
    ok.expect(200);
    assert_eq!(ok.data()["tms_user_id"], "alice");
    assert_eq!(ok.data()["profile"]["id"], "alice");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE tms_user_id = 'alice'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the local user row is upserted on first sight");

    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        hs256(&secret, c)
    };
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&good)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong secret",
            hs256("another-secret-that-is-long-enough-000", good.clone()),
            "TOKEN_SIGNATURE_INVALID",
        ),
        ("alg none", alg_none, "TOKEN_ALGORITHM_NOT_ALLOWED"),
        (
            "expired",
            with(json!({"exp": now() - 3600})),
            "TOKEN_EXPIRED",
        ),
        (
            "nbf in future",
            with(json!({"nbf": now() + 3600})),
            "TOKEN_NOT_YET_VALID",
        ),
        (
            "wrong iss",
            with(json!({"iss": "evil"})),
            "TOKEN_ISSUER_INVALID",
        ),
        (
            "wrong aud",
            with(json!({"aud": ["other"]})),
            "TOKEN_AUDIENCE_INVALID",
        ),
        (
            "missing sub",
            with(json!({"sub": null})),
            "TOKEN_SUBJECT_MISSING",
        ),
        (
            "empty sub",
            with(json!({"sub": ""})),
            "TOKEN_SUBJECT_MISSING",
        ),
        ("garbage", "not.a.jwt".into(), "TOKEN_MALFORMED"),
    ];
    for (name, token, code) in cases {
        let r = me(&app, &token).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, code),
            "{name}: {}",
            r.body
        );
        r.expect(401);
        assert!(
            !r.body.to_string().contains(&secret),
            "no secret in error bodies"
        );
    }
    let r = app.raw(Method::GET, "/api/v1/auth/me", None, None).await;
    r.expect_error(401, "TOKEN_MISSING");
    let r = app
        .http
        .get(format!("{}/api/v1/auth/me", app.base))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    TestApp::read(r).await.expect_error(401, "TOKEN_MISSING");
}

/// Core with the stand-in's JWKS and this least time between refetches.
async fn spawn_with_jwks(pool: PgPool, min_refresh_secs: u64) -> TestApp {
    spawn_with_jwks_on(pool, min_refresh_secs, Arc::new(SystemClock)).await
}

/// As `spawn_with_jwks`, on a clock the test moves: the refetch interval
/// passes only when the test says so.
async fn spawn_with_jwks_on(pool: PgPool, min_refresh_secs: u64, clock: Arc<dyn Clock>) -> TestApp {
    TestApp::spawn_full(
        pool,
        |v| {
            let url = v["TMS_API_URL"].clone() + "/.well-known/jwks.json";
            v.insert("TMS_JWKS_URL".into(), url);
            v.insert("JWKS_MIN_REFRESH_SECS".into(), min_refresh_secs.to_string());
        },
        clock,
    )
    .await
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn rs256_and_es256_through_jwks_with_refetch_on_unknown_kid(pool: PgPool) {
    let app = spawn_with_jwks(pool, 0).await;
    for alg in [TokenAlg::RS256, TokenAlg::ES256] {
        let t = app
            .tms
            .issue(&TokenRequest::new("bob").alg(alg))
            .unwrap()
            .token;
        let r = me(&app, &t).await;
        r.expect(200);
        assert_eq!(r.data()["tms_user_id"], "bob");
    }
    // TMS rotates its keys: the new kid is unknown to core until it refetches
    let jwks_before = app.tms.controls.requests(tms_standin::Route::Jwks);
    app.tms.standin.rotate_keys();
    let t = app
        .tms
        .issue(&TokenRequest::new("carol").alg(TokenAlg::RS256))
        .unwrap()
        .token;
    me(&app, &t).await.expect(200);
    assert!(
        app.tms.controls.requests(tms_standin::Route::Jwks) > jwks_before,
        "JWKS was refetched"
    );

    // a kid TMS never published stays unknown
    let forged = app
        .tms
        .issue(
            &TokenRequest::new("carol")
                .alg(TokenAlg::RS256)
                .kid("no-such-kid"),
        )
        .unwrap()
        .token;
    me(&app, &forged)
        .await
        .expect_error(401, "TOKEN_UNKNOWN_KEY");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn requests_racing_a_key_rotation_all_get_the_new_keys(pool: PgPool) {
    let clock = ManualClock::at(chrono::Utc::now());
    let app = spawn_with_jwks_on(pool, 30, Arc::new(clock.clone())).await;
    // past the refresh interval of the fetch at startup
    clock.advance(chrono::Duration::seconds(30));
    app.tms.standin.rotate_keys();
    let before = app.tms.controls.requests(tms_standin::Route::Jwks);
    let tokens: Vec<String> = ["alice", "bob", "carol", "dave"]
        .iter()
        .cycle()
        .take(8)
        .map(|u| {
            app.tms
                .issue(&TokenRequest::new(*u).alg(TokenAlg::RS256))
                .unwrap()
                .token
        })
        .collect();
    let replies = futures_util::future::join_all(tokens.iter().map(|t| me(&app, t))).await;
    for r in &replies {
        r.expect(200);
    }
    // one fetch serves every request: the others waited for it, or came after
    // it and found the new keys
    let fetched = app.tms.controls.requests(tms_standin::Route::Jwks) - before;
    assert_eq!(fetched, 1, "{fetched} fetches for 8 racing requests");
}

#[sqlx::test(migrator = "core_api::startup::MIGRATOR")]
async fn unknown_kid_refetch_is_rate_limited(pool: PgPool) {
    let clock = ManualClock::at(chrono::Utc::now());
    let app = spawn_with_jwks_on(pool, 30, Arc::new(clock.clone())).await;
    let jwks = || app.tms.controls.requests(tms_standin::Route::Jwks);
    assert_eq!(jwks(), 1, "core fetches the JWKS once at start");
    let forged = app
        .tms
        .issue(&TokenRequest::new("carol").alg(TokenAlg::RS256).kid("nope"))
        .unwrap()
        .token;
    let refused = || async {
        me(&app, &forged)
            .await
            .expect_error(401, "TOKEN_UNKNOWN_KEY");
    };
    // within the interval after the startup fetch: no refetch at all
    for _ in 0..5 {
        refused().await;
    }
    assert_eq!(jwks(), 1, "refetched within the interval");
    // the interval counts from the end of the last fetch
    clock.advance(chrono::Duration::seconds(29));
    refused().await;
    assert_eq!(jwks(), 1, "refetched 29 s after the last fetch");
    clock.advance(chrono::Duration::seconds(1));
    refused().await;
    assert_eq!(jwks(), 2, "one refetch once the interval has passed");
    for _ in 0..5 {
        refused().await;
    }
    assert_eq!(jwks(), 2, "and none again within the next interval");
}
