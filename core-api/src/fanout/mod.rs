//! Core → edge: events that originate in core are pushed to the edge's
//! `/internal/v1/fanout` (signed) after their transaction commits. Without
//! `EDGE_FANOUT_URL` core runs standalone and pushes nothing.
//!
//! Pushes go through a fixed number of lanes, each a bounded queue consumed by
//! one task. An event's lane follows its key (the conversation, else the user),
//! so events for one target leave in the order they were published, with or
//! without a `seq`. A lane sends whatever has queued as one `FanoutBatch`, and
//! resolves user targets from presence just before sending, off the request path.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::FanoutSettings;

mod push;
mod send;

pub use push::{Push, Stats, Targets};
use send::Sender;

#[derive(Clone)]
pub struct Fanout {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    lanes: Vec<mpsc::Sender<Push>>,
    closed: AtomicBool,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<Stats>,
}

/// Everything the lanes need besides the settings.
pub struct Context {
    pub secret: SecretString,
    pub clock: Arc<dyn Clock>,
    pub targets: Arc<dyn Targets>,
}

impl Fanout {
    /// Starts the lanes when `url` is set (needs a Tokio runtime).
    pub fn start(
        url: Option<String>,
        settings: &FanoutSettings,
        ctx: Context,
    ) -> Result<Self, reqwest::Error> {
        let Some(url) = url else {
            return Ok(Self { inner: None });
        };
        let path_and_query = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| "/".into());
        let stats = Arc::new(Stats::default());
        let sender = Arc::new(Sender {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .build()?,
            url,
            path_and_query,
            secret: ctx.secret,
            clock: ctx.clock,
            targets: ctx.targets,
            timeout: settings.timeout,
            stats: stats.clone(),
        });
        let (shutdown, watcher) = watch::channel(false);
        let mut lanes = Vec::with_capacity(settings.lanes);
        let mut tasks = Vec::with_capacity(settings.lanes);
        for lane in 0..settings.lanes {
            let (tx, rx) = mpsc::channel(settings.queue_capacity);
            lanes.push(tx);
            tasks.push(tokio::spawn(run_lane(
                lane,
                rx,
                watcher.clone(),
                sender.clone(),
                settings.max_batch,
            )));
        }
        Ok(Self {
            inner: Some(Arc::new(Inner {
                lanes,
                closed: AtomicBool::new(false),
                shutdown,
                tasks: Mutex::new(tasks),
                stats,
            })),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    pub fn stats(&self) -> Option<Arc<Stats>> {
        self.inner.as_ref().map(|i| i.stats.clone())
    }

    /// Queues the push on its lane; never waits. A full lane drops it: clients
    /// that missed it catch up over REST (`after_seq`, conversation lists).
    pub fn publish(&self, push: Push) {
        let Some(inner) = &self.inner else {
            return;
        };
        let lane = lane_of(&push.key, inner.lanes.len());
        if inner.closed.load(Ordering::Acquire) {
            inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event = %push.event.event, lane, "push after shutdown began, dropped");
            return;
        }
        if let Err(e) = inner.lanes[lane].try_send(push) {
            inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let push = match e {
                mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p) => p,
            };
            tracing::warn!(event = %push.event.event, key = %push.key, lane, "push lane full, event dropped");
        }
    }

    /// Stops taking pushes and waits up to `timeout` for the lanes to send what
    /// they hold; lanes still busy then are aborted. True when all finished.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let Some(inner) = &self.inner else {
            return true;
        };
        inner.closed.store(true, Ordering::Release);
        let _ = inner.shutdown.send(true);
        let tasks = std::mem::take(&mut *inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut complete = true;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                complete = false;
            }
        }
        if !complete {
            tracing::warn!(
                timeout_ms = timeout.as_millis() as u64,
                "push lanes did not drain in time"
            );
        }
        complete
    }
}

fn lane_of(key: &str, lanes: usize) -> usize {
    // `DefaultHasher::new()` has fixed keys: a key maps to one lane for the process's life
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % lanes.max(1) as u64) as usize
}

async fn run_lane(
    lane: usize,
    mut rx: mpsc::Receiver<Push>,
    mut shutdown: watch::Receiver<bool>,
    sender: Arc<Sender>,
    max_batch: usize,
) {
    let mut closing = false;
    loop {
        let first = if closing {
            match rx.try_recv() {
                Ok(p) => p,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                biased;
                p = rx.recv() => match p {
                    Some(p) => p,
                    None => break,
                },
                _ = shutdown.changed() => {
                    closing = true;
                    continue;
                }
            }
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        sender.send_batch(lane, batch).await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_key_always_lands_on_the_same_lane() {
        let conversation = Uuid::new_v4().to_string();
        let lane = lane_of(&conversation, 8);
        assert!(lane < 8);
        assert!((0..100).all(|_| lane_of(&conversation, 8) == lane));
        let used: HashSet<usize> = (0..200).map(|i| lane_of(&format!("u{i}"), 8)).collect();
        assert_eq!(used.len(), 8, "keys spread over every lane");
    }
}
