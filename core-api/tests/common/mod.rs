//! Test harness: the real app on port 0, over its own fresh Postgres database
//! (`#[sqlx::test]`), a private Redis key prefix, and the TMS stand-in in-process.
#![allow(dead_code)]

pub mod edge;

use std::collections::HashMap;
use std::sync::Arc;

use core_api::clock::{Clock, SystemClock};
use core_api::config::Config;
use core_api::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared_auth::internal_sig;
use sqlx::PgPool;
use tms_standin::RunningStandIn;

pub const INTERNAL_SECRET: &str = "test-internal-secret-0123456789abcdef0123";
/// The highest rate limit the configuration accepts: out of reach of any test.
pub const UNLIMITED: u32 = 1_000_000;
/// The rate-limit variables; remove them in `tweak` to get core's defaults.
pub const RATE_LIMIT_VARS: [&str; 6] = [
    "RATE_LIMIT_API_PER_MINUTE",
    "RATE_LIMIT_SOCKET_SENDS_PER_SECOND",
    "RATE_LIMIT_UPLOAD_URLS_PER_MINUTE",
    "RATE_LIMIT_SOCKET_JOINS_PER_SECOND",
    "RATE_LIMIT_SOCKET_RECEIPTS_PER_SECOND",
    "RATE_LIMIT_SOCKET_CALL_EVENTS_PER_SECOND",
];

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub tms: RunningStandIn,
    pub pool: PgPool,
    pub state: AppState,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// `error.code` of an error envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        if status < 300 {
            assert_eq!(self.body["success"], true, "body: {}", self.body);
            assert!(self.body["error"].is_null(), "body: {}", self.body);
        } else {
            assert_eq!(self.body["success"], false, "body: {}", self.body);
            assert!(self.body["data"].is_null(), "body: {}", self.body);
            assert!(
                self.body["error"]["message"].is_string(),
                "body: {}",
                self.body
            );
        }
        self
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_eq!(self.code(), code, "body: {}", self.body);
        self
    }
}

/// The environment every test app starts from: loopback on port 0, a private
/// Redis prefix, the stand-in as TMS, and no rate limit within reach (the
/// tests of the limits set their own). The pool is given, so `DATABASE_URL`
/// is only read where a test sets a real one.
pub fn test_env(tms: &RunningStandIn) -> HashMap<String, String> {
    [
        ("HOST", "127.0.0.1".to_string()),
        ("PORT", "0".to_string()),
        (
            "DATABASE_URL",
            "postgres://unused-the-pool-is-given/x".to_string(),
        ),
        ("REDIS_URL", redis_url()),
        (
            "REDIS_KEY_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4()),
        ),
        ("TMS_API_URL", tms.base_url()),
        ("TMS_API_KEY", tms.api_key().to_string()),
        ("JWT_SECRET", tms.config().jwt_secret.clone()),
        ("INTERNAL_API_SECRET", INTERNAL_SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(RATE_LIMIT_VARS.map(|k| (k.to_string(), UNLIMITED.to_string())))
    .collect()
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, |_| {}).await
    }

    /// Starts the app with the test environment, adjusted by `tweak`.
    pub async fn spawn_with(
        pool: PgPool,
        tweak: impl FnOnce(&mut HashMap<String, String>),
    ) -> Self {
        Self::spawn_full(pool, tweak, Arc::new(SystemClock)).await
    }

    /// The app pushing to a fresh edge stand-in.
    pub async fn spawn_with_edge(
        pool: PgPool,
        tweak: impl FnOnce(&mut HashMap<String, String>),
    ) -> (Self, edge::EdgeStandIn) {
        let edge = edge::EdgeStandIn::start().await;
        let url = edge.url.clone();
        let app = Self::spawn_with(pool, |v| {
            v.insert("EDGE_FANOUT_URL".into(), url);
            tweak(v);
        })
        .await;
        (app, edge)
    }

    /// As `spawn_with`, on a given clock.
    pub async fn spawn_full(
        pool: PgPool,
        tweak: impl FnOnce(&mut HashMap<String, String>),
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::spawn_until(pool, tweak, clock, std::future::pending()).await
    }

    /// As `spawn_full`, serving until `shutdown` resolves (a restart test).
    pub async fn spawn_until(
        pool: PgPool,
        tweak: impl FnOnce(&mut HashMap<String, String>),
        clock: Arc<dyn Clock>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Self {
        let tms = tms_standin::spawn(tms_standin::Config::default()).await;
        let mut vars = test_env(&tms);
        tweak(&mut vars);
        let config = Config::from_map(&vars).expect("test config");
        let app = core_api::build_with_pool(config, pool.clone(), clock)
            .await
            .expect("app starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state.clone();
        tokio::spawn(app.run_until(shutdown));
        Self {
            base,
            http: reqwest::Client::new(),
            tms,
            pool,
            state,
        }
    }

    pub fn token(&self, user: &str) -> String {
        self.tms.token(user)
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A request as `user` (HS256 token from the stand-in).
    pub async fn call(&self, method: Method, path: &str, user: &str, body: Option<Value>) -> Reply {
        let token = self.token(user);
        self.raw(method, path, Some(&token), body.as_ref()).await
    }

    pub async fn get(&self, path: &str, user: &str) -> Reply {
        self.call(Method::GET, path, user, None).await
    }

    pub async fn post(&self, path: &str, user: &str, body: Value) -> Reply {
        self.call(Method::POST, path, user, Some(body)).await
    }

    /// Creates a conversation and returns its id.
    pub async fn conversation(&self, owner: &str, kind: &str, members: &[&str]) -> String {
        let mut body = serde_json::json!({ "type": kind, "member_ids": members });
        if kind == "group" {
            body["title"] = "Team".into();
        }
        let r = self.post("/api/v1/conversations", owner, body).await;
        assert!(r.status.is_success(), "create conversation: {}", r.body);
        r.data()["id"]
            .as_str()
            .expect("conversation id")
            .to_string()
    }

    /// `PATCH /api/v1/conversations/{id}/members/{target}` with `{"role"}`, as `actor`.
    pub async fn set_role(
        &self,
        conversation_id: &str,
        actor: &str,
        target: &str,
        role: &str,
    ) -> Reply {
        self.call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conversation_id}/members/{target}"),
            actor,
            Some(serde_json::json!({ "role": role })),
        )
        .await
    }

    /// A signed internal request, as the edge makes them (`user` empty for system calls).
    pub async fn internal(&self, method: Method, path: &str, user: &str, body: &Value) -> Reply {
        let bytes = body.to_string().into_bytes();
        let headers = internal_sig::signed_headers(
            INTERNAL_SECRET.as_bytes(),
            method.as_str(),
            path,
            self.state.clock.unix_secs(),
            &uuid::Uuid::new_v4().simple().to_string(),
            user,
            &bytes,
        );
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        Self::read(req.body(bytes).send().await.expect("request sent")).await
    }

    /// A gateway's presence report; expects 200.
    pub async fn report(&self, gateway: &str, arrived: &[&str], departed: &[&str]) -> Value {
        let body =
            serde_json::json!({"gateway": gateway, "arrived": arrived, "departed": departed});
        let r = self
            .internal(Method::POST, "/internal/v1/presence", "", &body)
            .await;
        r.expect(200);
        r.data().clone()
    }

    pub async fn send(&self, user: &str, conversation_id: &str, content: &str) -> Value {
        let r = self
            .post(
                "/api/v1/messages",
                user,
                serde_json::json!({ "conversation_id": conversation_id, "type": "text", "content": content }),
            )
            .await;
        r.expect(201);
        r.data().clone()
    }
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
