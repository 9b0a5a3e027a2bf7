//! The stand-in's routes, driven through the router (oneshot) and, at the
//! end, over real TCP as core's tests will use it.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use tms_standin::{
    router, spawn, try_spawn, Config, Route, SpawnError, StandIn, TokenAlg, TokenRequest,
};
use tower::ServiceExt;

const KEY: &str = tms_standin::config::DEFAULT_API_KEY;
const SECRET: &str = tms_standin::config::DEFAULT_JWT_SECRET;

fn standin() -> StandIn {
    StandIn::new(Config::default()).unwrap()
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

fn get(uri: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(key) = key {
        builder = builder.header("X-API-Key", key);
    }
    builder.body(Body::empty()).unwrap()
}

fn post(uri: &str, key: Option<&str>, body: &Value) -> Request<Body> {
    post_raw(uri, key, body.to_string())
}

fn post_raw(uri: &str, key: Option<&str>, body: String) -> Request<Body> {
    let mut builder = Request::post(uri).header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header("X-API-Key", key);
    }
    builder.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn health_needs_no_key_and_is_counted() {
    let state = standin();
    let app = router(state.clone());
    let (status, body) = call(&app, get("/health", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    assert_eq!(state.controls().requests(Route::Health), 1);
}

#[tokio::test]
async fn user_route_serves_the_user_profile_shape_behind_the_api_key() {
    let state = standin();
    let app = router(state.clone());

    let (status, body) = call(&app, get("/users/alice", Some(KEY))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"id": "alice", "display_name": "Alice Anderson", "email": "alice@example.test", "avatar_url": null})
    );
    let profile: shared_types::api::UserProfile = serde_json::from_value(body).unwrap();
    assert_eq!(profile.id, "alice");

    let (status, body) = call(&app, get("/users/load-042", Some(KEY))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["display_name"], "Load User 042");

    let (status, body) = call(&app, get("/users/nobody", Some(KEY))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "not found"}));

    let (status, body) = call(&app, get("/users/alice", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"error": "unauthorized"}));
    let (status, _) = call(&app, get("/users/alice", Some("wrong-key"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(state.controls().requests(Route::User), 5);
    assert_eq!(state.controls().requests(Route::UsersBatch), 0);
}

#[tokio::test]
async fn batch_returns_known_users_in_order_and_enforces_limits() {
    let state = standin();
    let app = router(state.clone());

    let (status, body) = call(
        &app,
        post(
            "/users/batch",
            Some(KEY),
            &json!({"ids": ["bob", "ghost", "alice", "bob"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["bob", "alice"]);
    assert_eq!(body["users"][0]["display_name"], "Bob Brown");

    let (status, body) = call(&app, post("/users/batch", Some(KEY), &json!({"ids": []}))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"users": []})));

    let five_hundred: Vec<String> = (1..=500).map(|n| format!("load-{n:03}")).collect();
    let (status, body) = call(
        &app,
        post("/users/batch", Some(KEY), &json!({ "ids": five_hundred })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"].as_array().unwrap().len(), 500);

    let too_many: Vec<String> = (0..501).map(|n| format!("u{n}")).collect();
    let (status, body) = call(
        &app,
        post("/users/batch", Some(KEY), &json!({ "ids": too_many })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("500"), "{body}");

    let (status, body) = call(
        &app,
        post_raw("/users/batch", Some(KEY), "{not json".into()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());

    let (status, _) = call(&app, post("/users/batch", None, &json!({"ids": ["alice"]}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(state.controls().requests(Route::UsersBatch), 6);
    assert_eq!(state.controls().batch_ids_requested(), 4 + 500 + 501);
}

#[tokio::test]
async fn outage_switch_makes_health_and_user_routes_503_but_not_jwks() {
    let state = standin();
    let app = router(state.clone());
    state.controls().set_down(true);

    for req in [
        get("/health", None),
        get("/users/alice", Some(KEY)),
        post("/users/batch", Some(KEY), &json!({"ids": ["alice"]})),
    ] {
        let (status, body) = call(&app, req).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, json!({"error": "unavailable"}));
    }
    let (status, _) = call(&app, get("/.well-known/jwks.json", None)).await;
    assert_eq!(status, StatusCode::OK);

    // the HTTP control endpoint flips the same switch
    let (status, body) = call(
        &app,
        post("/__control/outage", None, &json!({"down": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["down"], false);
    assert!(!state.controls().is_down());
    let (status, _) = call(&app, get("/users/alice", Some(KEY))).await;
    assert_eq!(status, StatusCode::OK);

    let (_, stats) = call(&app, get("/__control/stats", None)).await;
    assert_eq!(stats["health"], 1);
    assert_eq!(stats["user"], 2);
    assert_eq!(stats["users_batch"], 1);
    assert_eq!(stats["jwks"], 1);

    let (status, _) = call(
        &app,
        post("/__control/outage", None, &json!({"down": "yes"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delay_slows_user_routes() {
    let state = standin();
    let app = router(state.clone());
    let (status, _) = call(
        &app,
        post(
            "/__control/outage",
            None,
            &json!({"down": false, "delay_ms": 150}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.controls().delay(), Duration::from_millis(150));
    let started = Instant::now();
    let (status, _) = call(&app, get("/users/bob", Some(KEY))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn users_can_be_added_at_runtime() {
    let state = standin();
    let app = router(state.clone());
    state
        .controls()
        .add_user(tms_standin::profile("zoe", "Zoe Zhang"));
    let (status, body) = call(&app, get("/users/zoe", Some(KEY))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "zoe@example.test");

    let yann = json!({"id": "yann", "display_name": "Yann Young", "email": null, "avatar_url": "https://img.example.test/y.png"});
    let (status, _) = call(&app, post("/__control/users", None, &yann)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&app, get("/users/yann", Some(KEY))).await;
    assert_eq!((status, body), (StatusCode::OK, yann));
    // and a new user can get a token
    let (status, _) = call(&app, get("/dev/token/yann", None)).await;
    assert_eq!(status, StatusCode::OK);
}

fn hs256_validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_aud = false;
    v
}

#[tokio::test]
async fn get_dev_token_issues_hs256_for_an_hour() {
    let state = standin();
    let app = router(state.clone());
    let (status, body) = call(&app, get("/dev/token/alice", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["alg"], "HS256");
    let token = body["token"].as_str().unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid, None);
    let data = decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &hs256_validation(),
    )
    .unwrap();
    let claims = data.claims;
    assert_eq!(claims["sub"], "alice");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert_eq!(body["expires_at"].as_i64().unwrap(), exp);
    assert!(claims.get("iss").is_none() && claims.get("aud").is_none());

    let (status, body) = call(&app, get("/dev/token/alice?format=text", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_str().unwrap().split('.').count(), 3);

    let (status, body) = call(&app, get("/dev/token/mallory", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("unknown user"));
    let (status, _) = call(&app, get("/dev/token/mallory?format=text", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(state.controls().requests(Route::DevToken), 4);
}

#[tokio::test]
async fn dev_token_routes_allow_any_origin_and_user_routes_do_not() {
    let app = router(standin());
    let origin = "http://127.0.0.1:8787";
    let with_origin = |req: Request<Body>| {
        let (mut parts, body) = req.into_parts();
        parts.headers.insert("origin", origin.parse().unwrap());
        Request::from_parts(parts, body)
    };
    let allow_origin = |resp: &axum::response::Response| {
        resp.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    // the demo page's simple GET, and a JSON POST's preflight
    let resp = app
        .clone()
        .oneshot(with_origin(get("/dev/token/bob?format=text", None)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(allow_origin(&resp).as_deref(), Some("*"));
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/dev/token")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(preflight).await.unwrap();
    assert!(resp.status().is_success(), "preflight: {}", resp.status());
    assert_eq!(allow_origin(&resp).as_deref(), Some("*"));
    let methods = resp.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods == "*" || methods.contains("POST"), "{methods}");

    // the routes behind the API key are not opened to browsers
    for uri in ["/users/alice", "/health", "/.well-known/jwks.json"] {
        let resp = app
            .clone()
            .oneshot(with_origin(get(uri, Some(KEY))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{uri}");
        assert_eq!(allow_origin(&resp), None, "{uri}");
    }
}

/// Verifies `token` with the JWKS key named by its `kid`, as core will.
async fn verify_with_jwks(app: &Router, token: &str, alg: Algorithm) -> Value {
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid in header");
    let (_, jwks) = call(app, get("/.well-known/jwks.json", None)).await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let jwk = set.find(&kid).expect("kid published in JWKS");
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_against_the_published_jwks() {
    let config = Config {
        issuer: Some("https://tms.example.test".into()),
        audience: Some("teamchat".into()),
        ..Config::default()
    };
    let state = StandIn::new(config).unwrap();
    let app = router(state.clone());
    for (alg, algorithm) in [("RS256", Algorithm::RS256), ("ES256", Algorithm::ES256)] {
        let (status, body) = call(
            &app,
            post(
                "/dev/token",
                None,
                &json!({"sub": "bob", "alg": alg, "ttl_secs": 60}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let claims = verify_with_jwks(&app, body["token"].as_str().unwrap(), algorithm).await;
        assert_eq!(claims["sub"], "bob");
        assert_eq!(claims["iss"], "https://tms.example.test");
        assert_eq!(claims["aud"], "teamchat");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
    }
}

#[tokio::test]
async fn token_requests_can_shape_bad_tokens_for_rejection_tests() {
    let state = standin();
    let app = router(state.clone());

    // unknown users only with allow_unknown; extra overrides and null removes
    let (status, _) = call(&app, post("/dev/token", None, &json!({"sub": "ghost"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &app,
        post(
            "/dev/token",
            None,
            &json!({"sub": "ghost", "allow_unknown": true, "extra": {"role": "admin", "nbf": 4_000_000_000_i64, "iat": null}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(body["token"].as_str().unwrap())
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "ghost");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["nbf"], 4_000_000_000_i64);
    assert!(claims.get("iat").is_none());

    // a negative ttl gives an expired token
    let expired = state
        .issue_token(&TokenRequest::new("alice").ttl_secs(-120))
        .unwrap();
    let err = decode::<Value>(
        &expired.token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &hs256_validation(),
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );

    // alg none: unsigned
    let (status, body) = call(
        &app,
        post("/dev/token", None, &json!({"sub": "alice", "alg": "none"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = body["token"].as_str().unwrap();
    assert!(token.ends_with('.'));
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "none");

    // an HS256 token carrying the RSA kid (key-confusion tests)
    let (rs_kid, _) = state.kids();
    let confused = state
        .issue_token(&TokenRequest::new("alice").kid(rs_kid.clone()))
        .unwrap();
    let header = decode_header(&confused.token).unwrap();
    assert_eq!((header.alg, header.kid), (Algorithm::HS256, Some(rs_kid)));

    // malformed bodies
    let (status, _) = call(
        &app,
        post("/dev/token", None, &json!({"sub": "alice", "alg": "HS512"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&app, post("/dev/token", None, &json!({"user": "alice"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn key_rotation_publishes_new_kids_and_keeps_old_ones() {
    let state = standin();
    let app = router(state.clone());
    let (old_rs, old_es) = state.kids();
    let (status, body) = call(&app, post("/__control/rotate-keys", None, &json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let new_rs = body["rs256_kid"].as_str().unwrap().to_owned();
    assert_ne!(new_rs, old_rs);
    assert_ne!(body["es256_kid"].as_str().unwrap(), old_es);

    let issued = state
        .issue_token(&TokenRequest::new("carol").alg(TokenAlg::RS256))
        .unwrap();
    assert_eq!(issued.kid.as_deref(), Some(new_rs.as_str()));
    let claims = verify_with_jwks(&app, &issued.token, Algorithm::RS256).await;
    assert_eq!(claims["sub"], "carol");
    let (_, jwks) = call(&app, get("/.well-known/jwks.json", None)).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = router(standin());
    let (status, body) = call(&app, get("/nope", None)).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"error": "not found"}))
    );
    let (status, body) = call(&app, post("/health", None, &json!({}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"error": "method not allowed"}));
}

#[tokio::test]
async fn spawned_in_process_on_port_zero_over_real_http() {
    let tms = spawn(Config::default()).await;
    assert_ne!(tms.addr.port(), 0);
    let http = reqwest::Client::new();

    let health: Value = http
        .get(format!("{}/health", tms.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));

    let resp = http
        .post(format!("{}/users/batch", tms.base_url()))
        .header("X-API-Key", tms.api_key())
        .json(&json!({"ids": ["alice", "dave"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["users"][1]["display_name"], "Dave Davis");

    tms.controls.set_down(true);
    let resp = http
        .get(format!("{}/users/alice", tms.base_url()))
        .header("X-API-Key", tms.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(tms.controls.requests(Route::User), 1);
    assert_eq!(tms.controls.requests(Route::UsersBatch), 1);

    let jwks: Value = http
        .get(tms.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let token = tms.token("erin");
    assert_eq!(token.split('.').count(), 3);

    let addr = tms.addr;
    tms.shutdown().await;
    assert!(http
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_short_jwt_secret_is_refused() {
    let config = Config {
        jwt_secret: "short".into(),
        ..Config::default()
    };
    match try_spawn(config).await {
        Err(SpawnError::Config(e)) => assert!(e.to_string().contains("JWT_SECRET")),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a 5-byte secret was accepted"),
    }
}
