//! Fault tests: Redis killed and restarted, Redis hung (SIGSTOP) (caches and
//! the rate limits' fail-open policy), one master of a Redis Cluster hung or
//! killed, reads on a streaming replica (paused, stopped), Postgres
//! crashed under concurrent sends, TMS hung, and shutdown. Each test runs its
//! own dependency processes (`procs`), so it can break them freely; each is
//! bounded to seconds. Run with `--nocapture` to see the measured figures
//! (lines starting `FAULT`).

#[path = "../common/mod.rs"]
mod common;
mod postgres;
mod procs;
mod rate_limits;
mod read_replica;
mod redis_cluster_faults;
mod redis_faults;
mod shutdown;
mod tms;

use std::time::{Duration, Instant};

use common::{Reply, TestApp, INTERNAL_SECRET};
use reqwest::Method;
use serde_json::Value;
use shared_auth::internal_sig;

/// Latencies of one route under one fault.
#[derive(Default)]
pub struct Timings(Vec<Duration>);

impl Timings {
    pub fn add(&mut self, d: Duration) {
        self.0.push(d);
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len().max(1)) - 1;
        v.get(i).copied().unwrap_or_default()
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// Prints one `FAULT` line and returns the p99.
    pub fn report(&self, fault: &str, what: &str, answer: &str) -> Duration {
        println!(
            "FAULT {fault:<16} {what:<44} -> {answer:<34} n={:<3} p50={:>7.1?} p99={:>7.1?}",
            self.0.len(),
            self.quantile(0.5),
            self.p99()
        );
        self.p99()
    }
}

/// Runs `f` and returns its result with how long it took.
pub async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, Duration) {
    let t = Instant::now();
    let out = f.await;
    (out, t.elapsed())
}

/// Polls `check` every 50 ms until it holds; returns how long that took.
pub async fn recovery<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !check().await {
        assert!(t.elapsed() < limit, "no recovery within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.elapsed()
}

/// A request signed as the edge signs it (fresh nonce).
pub async fn signed(
    base: &str,
    http: &reqwest::Client,
    method: Method,
    path: &str,
    user: &str,
    body: Option<&Value>,
) -> Reply {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    signed_with_nonce(base, http, method, path, user, body, &nonce).await
}

pub async fn signed_with_nonce(
    base: &str,
    http: &reqwest::Client,
    method: Method,
    path: &str,
    user: &str,
    body: Option<&Value>,
    nonce: &str,
) -> Reply {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let headers = internal_sig::signed_headers(
        INTERNAL_SECRET.as_bytes(),
        method.as_str(),
        path,
        chrono::Utc::now().timestamp() as u64,
        nonce,
        user,
        &bytes,
    );
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    TestApp::read(req.body(bytes).send().await.expect("request sent")).await
}

/// `GET /health/ready`.
pub async fn ready(app: &TestApp) -> Reply {
    app.raw(Method::GET, "/health/ready", None, None).await
}
