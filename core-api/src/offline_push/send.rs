//! The push task: takes what has queued (up to `max_batch`), resolves the
//! recipients, and sends one signed request, retried with backoff.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_auth::webhook_sig;
use shared_types::api::Message;
use shared_types::push::{PushBatch, PUSH_SIGNATURE_HEADER};
use tokio::sync::mpsc;

use super::{PushStats, Recipients};
use crate::clock::Clock;

pub(super) struct Sender {
    pub(super) http: reqwest::Client,
    pub(super) url: String,
    pub(super) secret: SecretString,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) recipients: Arc<dyn Recipients>,
    pub(super) stats: Arc<PushStats>,
    pub(super) max_batch: usize,
    pub(super) max_attempts: u32,
    pub(super) retry_base: Duration,
}

/// What one attempt came to.
enum Attempt {
    Accepted,
    /// A 4xx other than 408 and 429: sending the same again cannot help.
    Refused(u16),
    Failed(String),
}

impl Sender {
    pub(super) async fn run(self, mut rx: mpsc::Receiver<Message>) {
        let mut messages = Vec::with_capacity(self.max_batch);
        while rx.recv_many(&mut messages, self.max_batch).await > 0 {
            let taken = std::mem::take(&mut messages);
            match self.recipients.resolve(&taken).await {
                Ok(events) if events.is_empty() => {}
                Ok(events) => self.deliver(PushBatch { events }).await,
                Err(e) => {
                    self.stats
                        .unresolved
                        .fetch_add(taken.len() as u64, Ordering::Relaxed);
                    tracing::error!(error = %e, count = taken.len(), "push recipients unresolved: messages not pushed");
                }
            }
        }
    }

    async fn deliver(&self, batch: PushBatch) {
        let body = match serde_json::to_vec(&batch) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "push batch not encodable");
                return;
            }
        };
        let count = batch.events.len() as u64;
        for attempt in 1..=self.max_attempts {
            match self.attempt(&body).await {
                Attempt::Accepted => {
                    self.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
                    self.stats.events_sent.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Refused(status) => {
                    tracing::error!(status, events = count, "push gateway refused a batch");
                    break;
                }
                Attempt::Failed(why) if attempt < self.max_attempts => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    let delay = self.retry_base.saturating_mul(1 << (attempt - 1).min(16));
                    tracing::warn!(attempt, %why, delay_ms = delay.as_millis() as u64, "push failed: retrying");
                    tokio::time::sleep(delay).await;
                }
                Attempt::Failed(why) => {
                    tracing::error!(attempt, %why, events = count, "push failed: giving up");
                }
            }
        }
        self.stats.batches_failed.fetch_add(1, Ordering::Relaxed);
    }

    async fn attempt(&self, body: &[u8]) -> Attempt {
        // signed at each attempt: a retry long after the first must not look stale
        let signature = webhook_sig::header_value(
            self.secret.expose_secret().as_bytes(),
            self.clock.unix_secs(),
            body,
        );
        let sent = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header(PUSH_SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Attempt::Accepted,
            Ok(r) if r.status().is_client_error() && !matches!(r.status().as_u16(), 408 | 429) => {
                Attempt::Refused(r.status().as_u16())
            }
            Ok(r) => Attempt::Failed(format!("status {}", r.status().as_u16())),
            Err(e) => Attempt::Failed(if e.is_timeout() {
                "timeout".into()
            } else {
                "connection failed".into()
            }),
        }
    }
}
