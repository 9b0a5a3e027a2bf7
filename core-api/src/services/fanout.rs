//! Core → edge: events that originate in core are pushed to the edge's
//! `/internal/v1/fanout` (signed) after their transaction commits. Without
//! `EDGE_FANOUT_URL` core runs standalone and pushes nothing.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_auth::internal_sig;
use shared_types::internal::{FanoutRequest, FanoutTarget};

use crate::clock::Clock;

#[derive(Clone)]
pub struct Fanout {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    http: reqwest::Client,
    url: String,
    path_and_query: String,
    secret: SecretString,
    clock: Arc<dyn Clock>,
}

const ATTEMPTS: u32 = 3;

impl Fanout {
    pub fn new(url: Option<String>, secret: SecretString, clock: Arc<dyn Clock>) -> Self {
        let inner = url.map(|url| {
            let path_and_query = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
                .unwrap_or_else(|| "/".into());
            Arc::new(Inner {
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default(),
                url,
                path_and_query,
                secret,
                clock,
            })
        });
        Self { inner }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Sends in the background: the caller's response never waits on the edge.
    pub fn publish(&self, event: FanoutRequest) {
        let Some(inner) = self.inner.clone() else {
            return;
        };
        tokio::spawn(async move { inner.send(&event).await });
    }

    /// Sends and waits; used where ordering with the response matters (tests).
    pub async fn publish_now(&self, event: &FanoutRequest) -> bool {
        match &self.inner {
            Some(inner) => inner.send(event).await,
            None => false,
        }
    }
}

impl Inner {
    async fn send(&self, event: &FanoutRequest) -> bool {
        let Ok(body) = serde_json::to_vec(event) else {
            return false;
        };
        for attempt in 1..=ATTEMPTS {
            // each attempt is signed anew with a fresh nonce: the edge refuses a repeated signature
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let headers = internal_sig::signed_headers(
                self.secret.expose_secret().as_bytes(),
                "POST",
                &self.path_and_query,
                self.clock.unix_secs(),
                &nonce,
                "",
                &body,
            );
            let mut req = self
                .http
                .post(&self.url)
                .header("content-type", "application/json");
            for (name, value) in headers {
                req = req.header(name, value);
            }
            match req.body(body.clone()).send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) if r.status().is_client_error() => {
                    tracing::error!(status = %r.status(), event = %event.event, "edge refused fan-out");
                    return false;
                }
                Ok(r) => tracing::warn!(status = %r.status(), attempt, "fan-out failed"),
                Err(e) => tracing::warn!(error = %e.without_url(), attempt, "fan-out failed"),
            }
            // the fresh nonce makes each retry's signature unique, so no need to wait
            // for the next second; a short backoff just spares a struggling edge
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        false
    }
}

/// An event for everyone joined to the conversation's room.
pub fn to_conversation(
    conversation_id: uuid::Uuid,
    namespace: &str,
    event: &str,
    data: serde_json::Value,
    seq: Option<i64>,
) -> FanoutRequest {
    FanoutRequest {
        target: FanoutTarget::Conversation { conversation_id },
        namespace: namespace.to_string(),
        event: event.to_string(),
        data,
        seq,
    }
}
