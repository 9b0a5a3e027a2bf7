//! Push to offline members: after a new message commits, it is queued here
//! (a bounded queue: a full queue drops and counts, a send never waits); one
//! task takes what has queued, asks the services who should hear of each
//! message (`Recipients`: members with no socket online whose settings let it
//! through), and POSTs the events as one signed batch to `PUSH_WEBHOOK_URL`,
//! retried with exponential backoff. Retries carry the same `event_id`s, so
//! a gateway that deduplicates on them notifies once. Without the URL
//! nothing is queued.

mod send;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use secrecy::SecretString;
use shared_types::api::Message;
use shared_types::push::PushEvent;
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::config::PushSettings;
use crate::error::AppResult;

/// Who should hear of new messages, asked by the push task just before it
/// sends; the services answer (membership, settings, presence).
pub trait Recipients: Send + Sync {
    /// One event per message that anyone should hear of (others are left out).
    fn resolve<'a>(&'a self, messages: &'a [Message]) -> BoxFuture<'a, AppResult<Vec<PushEvent>>>;
}

/// Counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct PushStats {
    /// Messages refused because the queue was full.
    pub dropped: AtomicU64,
    /// Events the gateway accepted.
    pub events_sent: AtomicU64,
    /// Requests the gateway accepted.
    pub batches_sent: AtomicU64,
    /// Attempts that failed and were tried again.
    pub retries: AtomicU64,
    /// Batches given up after every attempt (or refused with a 4xx).
    pub batches_failed: AtomicU64,
    /// Messages whose recipients could not be resolved (Postgres failed).
    pub unresolved: AtomicU64,
}

#[derive(Clone)]
pub struct OfflinePush {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    queue: mpsc::Sender<Message>,
    stats: Arc<PushStats>,
}

/// Everything the push task needs besides the settings.
pub struct Context {
    pub clock: Arc<dyn Clock>,
    pub recipients: Arc<dyn Recipients>,
}

impl OfflinePush {
    /// Off: nothing is queued or sent.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Starts the push task when `PUSH_WEBHOOK_URL` is set (needs a Tokio runtime).
    pub fn start(settings: &PushSettings, ctx: Context) -> Result<Self, reqwest::Error> {
        let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.secret) else {
            return Ok(Self::disabled());
        };
        let stats = Arc::new(PushStats::default());
        let (queue, rx) = mpsc::channel(settings.queue_capacity);
        let sender = send::Sender {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()?,
            url: url.clone(),
            secret: SecretString::from(secrecy::ExposeSecret::expose_secret(secret).to_owned()),
            clock: ctx.clock,
            recipients: ctx.recipients,
            stats: stats.clone(),
            max_batch: settings.max_batch,
            max_attempts: settings.max_attempts,
            retry_base: settings.retry_base,
        };
        tokio::spawn(sender.run(rx));
        Ok(Self {
            inner: Some(Arc::new(Inner { queue, stats })),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    pub fn stats(&self) -> Option<Arc<PushStats>> {
        self.inner.as_ref().map(|i| i.stats.clone())
    }

    /// Queues a new message; never waits. A full queue drops it (counted).
    pub fn message_created(&self, message: &Message) {
        let Some(inner) = &self.inner else {
            return;
        };
        if inner.queue.try_send(message.clone()).is_err() {
            inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(message_id = %message.id, "push queue full: message not pushed");
        }
    }
}
