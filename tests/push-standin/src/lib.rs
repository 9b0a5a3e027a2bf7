//! The push gateway stand-in: `POST /push` takes core's signed batches
//! (`shared_types::push::PushBatch`), refuses a bad signature with 401, keeps
//! each `event_id` once (a retried batch is accepted again, its events not
//! recorded twice) and `GET /pushes` shows what arrived. A test can make it
//! answer 503 to the next requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use shared_auth::webhook_sig;
use shared_types::push::{PushBatch, PushEvent, PUSH_SIGNATURE_HEADER};

#[derive(Clone, Default)]
pub struct PushStandIn {
    secret: Arc<String>,
    events: Arc<Mutex<Vec<PushEvent>>>,
    /// Requests that reached the handler, accepted or not.
    pub requests: Arc<AtomicU32>,
    /// Events that arrived again (a retry) and were not recorded twice.
    pub duplicates: Arc<AtomicU32>,
    failures: Arc<AtomicU32>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub standin: PushStandIn,
}

impl Running {
    /// The URL core pushes to (`PUSH_WEBHOOK_URL`).
    pub fn url(&self) -> String {
        format!("http://{}/push", self.addr)
    }
}

impl PushStandIn {
    pub fn new(secret: &str) -> Self {
        Self {
            secret: Arc::new(secret.to_owned()),
            ..Self::default()
        }
    }

    /// Every event recorded, in arrival order, each `event_id` once.
    pub fn events(&self) -> Vec<PushEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Answer 503 to the next `n` requests.
    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Waits (up to 5 s) until `n` events arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<PushEvent> {
        for _ in 0..250 {
            if self.events().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.events()
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/push", post(receive))
            .route("/pushes", get(list))
            .with_state(self.clone())
    }
}

async fn receive(State(s): State<PushStandIn>, headers: HeaderMap, body: Bytes) -> StatusCode {
    s.requests.fetch_add(1, Ordering::SeqCst);
    let header = headers
        .get(PUSH_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if webhook_sig::verify(s.secret.as_bytes(), header, &body, now).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    if s.failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(batch) = serde_json::from_slice::<PushBatch>(&body) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let mut events = s.events.lock().unwrap();
    for event in batch.events {
        if events.iter().any(|e| e.event_id == event.event_id) {
            s.duplicates.fetch_add(1, Ordering::SeqCst);
        } else {
            events.push(event);
        }
    }
    StatusCode::OK
}

async fn list(State(s): State<PushStandIn>) -> Json<Vec<PushEvent>> {
    Json(s.events())
}

/// Serves on `addr` (port 0: any free port) until the runtime ends.
pub async fn spawn(addr: SocketAddr, secret: &str) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let standin = PushStandIn::new(secret);
    let app = standin.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Running { addr, standin })
}
