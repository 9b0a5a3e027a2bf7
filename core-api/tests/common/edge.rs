//! An in-process stand-in for the edge's `/internal/v1/fanout`: it checks the
//! signature as the edge does and records every batch it accepted. A test can
//! stall it (requests wait at a gate) or make it answer 503.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use shared_auth::internal_sig;
use shared_types::internal::{
    FanoutBatch, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER,
};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

use super::INTERNAL_SECRET;

#[derive(Clone)]
pub struct EdgeStandIn {
    pub url: String,
    batches: Arc<Mutex<Vec<Value>>>,
    gate: Arc<RwLock<()>>,
    /// Answer 503 to this many requests first.
    failures: Arc<AtomicU32>,
    /// Every request that reached the handler, accepted or not.
    pub requests: Arc<AtomicU32>,
}

/// While held, the stand-in keeps every request waiting.
pub struct Stall(#[allow(dead_code)] OwnedRwLockWriteGuard<()>);

impl EdgeStandIn {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/internal/v1/fanout",
            listener.local_addr().unwrap()
        );
        let edge = Self {
            url,
            batches: Arc::default(),
            gate: Arc::default(),
            failures: Arc::default(),
            requests: Arc::default(),
        };
        let handler = edge.clone();
        let app = Router::new().route(
            "/internal/v1/fanout",
            post(move |headers: HeaderMap, body: Bytes| {
                let edge = handler.clone();
                async move { edge.receive(headers, body).await }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        edge
    }

    async fn receive(&self, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let _open = self.gate.read().await;
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let verdict = internal_sig::verify(
            INTERNAL_SECRET.as_bytes(),
            "POST",
            "/internal/v1/fanout",
            &h(HEADER_TIMESTAMP),
            &h(HEADER_NONCE),
            &h(HEADER_USER),
            &body,
            &h(HEADER_SIGNATURE),
            chrono::Utc::now().timestamp() as u64,
            internal_sig::MAX_SKEW_SECS,
        );
        if verdict.is_err() || !h(HEADER_USER).is_empty() {
            return (StatusCode::UNAUTHORIZED, String::new());
        }
        let take_failure = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if take_failure {
            return (StatusCode::SERVICE_UNAVAILABLE, String::new());
        }
        // the typed contract must parse, not just the JSON
        let batch: FanoutBatch = serde_json::from_slice(&body).expect("a FanoutBatch");
        let accepted = batch.events.len();
        self.batches
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap());
        let reply = json!({"success": true, "data": {"accepted": accepted}, "error": null});
        (StatusCode::OK, reply.to_string())
    }

    pub async fn stall(&self) -> Stall {
        Stall(self.gate.clone().write_owned().await)
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Every accepted batch, as received.
    pub fn batches(&self) -> Vec<Value> {
        self.batches.lock().unwrap().clone()
    }

    /// Every accepted event, in the order received.
    pub fn events(&self) -> Vec<Value> {
        self.batches()
            .iter()
            .flat_map(|b| b["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    pub fn named(&self, event: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// Waits (up to 5 s) until `n` events named `event` arrived.
    pub async fn wait_for(&self, event: &str, n: usize) -> Vec<Value> {
        for _ in 0..250 {
            let got = self.named(event);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.named(event)
    }

    /// Waits (up to 5 s) until an event named `event` matches `pred`.
    pub async fn wait_for_where(&self, event: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        for _ in 0..250 {
            let got = self.named(event);
            if got.iter().any(&pred) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.named(event)
    }
}
