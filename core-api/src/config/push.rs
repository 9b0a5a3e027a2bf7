//! Push to offline members (`PUSH_*`): where the push gateway listens, the
//! secret that signs each request, and the queue's bounds. Without
//! `PUSH_WEBHOOK_URL` nothing is pushed.

use std::time::Duration;

use secrecy::SecretString;

use super::reader::Reader;

#[derive(Debug, Clone)]
pub struct PushSettings {
    /// The push gateway; `None`: push is off.
    pub webhook_url: Option<String>,
    /// Signs each request (`X-Push-Signature`); required with the URL.
    pub secret: Option<SecretString>,
    /// New messages waiting to be pushed before new ones are dropped (counted).
    pub queue_capacity: usize,
    /// Most events in one request.
    pub max_batch: usize,
    /// Attempts per batch (the first included) before it is given up (counted).
    pub max_attempts: u32,
    /// The first retry's delay; each further one doubles it.
    pub retry_base: Duration,
    /// Per attempt.
    pub timeout: Duration,
    /// Longest `preview`, in characters.
    pub preview_chars: usize,
}

pub(super) fn read(r: &mut Reader<'_>, min_secret_bytes: usize) -> PushSettings {
    let webhook_url = r.optional_url("PUSH_WEBHOOK_URL", &["http", "https"]);
    let secret = r.optional_secret("PUSH_WEBHOOK_SECRET", min_secret_bytes);
    if webhook_url.is_some() && secret.is_none() && !r.has("PUSH_WEBHOOK_SECRET") {
        r.problem("PUSH_WEBHOOK_SECRET: required with PUSH_WEBHOOK_URL".into());
    }
    PushSettings {
        webhook_url,
        secret,
        queue_capacity: r.bounded("PUSH_QUEUE_CAPACITY", 10_000, 1..=1_000_000),
        max_batch: r.bounded("PUSH_MAX_BATCH", 100, 1..=1000),
        max_attempts: r.bounded("PUSH_MAX_ATTEMPTS", 5, 1..=20) as u32,
        retry_base: Duration::from_millis(r.bounded("PUSH_RETRY_BASE_MS", 500, 1..=60_000) as u64),
        timeout: Duration::from_millis(r.bounded("PUSH_TIMEOUT_MS", 5000, 1..=60_000) as u64),
        preview_chars: r.bounded("PUSH_PREVIEW_CHARS", 120, 0..=4000),
    }
}
