//! Thin Redis edge: the connection (one server or a Redis Cluster, [`conn`]),
//! key naming with hash tags ([`keys`]) behind an optional prefix, and the few
//! commands core uses.
//!
//! Every command, script and pipeline goes through [`Cache::run`], which bounds
//! it by the response timeout and tracks Redis health: after a connection-level
//! failure (refused, dropped, timed out) Redis counts as down, and calls fail at
//! once so callers take their fallback (TMS, Postgres) instead of each waiting
//! for the timeout. A background probe PINGs every [`PROBE_INTERVAL`] and
//! marks Redis up again on the first PONG (on a cluster: from every master);
//! the `ConnectionManager` (or the cluster client, per node) reconnects
//! underneath, so no restart of core is needed.

pub mod conn;
pub mod keys;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use redis::{AsyncCommands, ErrorKind, RedisError, RedisResult};

use conn::Connector;
pub use conn::{CacheTimeouts, RedisConn, RedisTarget};

use crate::error::AppResult;

/// How often a down Redis is probed; bounds the recovery time after it returns.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Reconnect backoff of the `ConnectionManager`: a few quick attempts per
/// reconnection (50 ms, 100 ms, capped at 500 ms). Longer schedules only make
/// callers wait on a reconnection that our own probe will retry anyway.
const RECONNECT_RETRIES: usize = 2;
const RECONNECT_FACTOR_MS: u64 = 50;
const RECONNECT_MAX_DELAY_MS: u64 = 500;

#[derive(Clone)]
pub struct Cache {
    /// Empty until the first connection succeeds (Redis may be down at start).
    conn: Arc<OnceLock<RedisConn>>,
    prefix: String,
    cluster: bool,
    timeouts: CacheTimeouts,
    health: Arc<Health>,
}

/// Most writes queued for replay while Redis is down; beyond it the oldest
/// are dropped (their keys still expire with their TTL).
const MAX_PENDING_REPLAYS: usize = 10_000;

#[derive(Default)]
struct Health {
    down: AtomicBool,
    /// Writes that must reach Redis once it answers again (cache invalidations).
    pending: Mutex<VecDeque<redis::Pipeline>>,
}

impl Health {
    fn take_pending(&self) -> Vec<redis::Pipeline> {
        self.pending
            .lock()
            .map(|mut p| p.drain(..).collect())
            .unwrap_or_default()
    }

    fn requeue(&self, rest: impl IntoIterator<Item = redis::Pipeline>) {
        if let Ok(mut p) = self.pending.lock() {
            for (i, pipe) in rest.into_iter().enumerate() {
                p.insert(i, pipe);
            }
        }
    }
}

impl Cache {
    /// Connects to Redis (`url`: see [`RedisTarget`]). A Redis that is down at
    /// start does not stop core: it starts with Redis marked down and keeps
    /// connecting in the background. Only a malformed URL is an error.
    pub async fn connect(
        url: &str,
        prefix: String,
        timeouts: CacheTimeouts,
    ) -> Result<Self, redis::RedisError> {
        let target = RedisTarget::parse(url)
            .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "REDIS_URL", e)))?;
        let backoff = (
            RECONNECT_RETRIES,
            RECONNECT_FACTOR_MS,
            RECONNECT_MAX_DELAY_MS,
        );
        let connector = Connector::new(&target, timeouts, backoff)?;
        let cache = Self {
            conn: Arc::default(),
            prefix,
            cluster: target.is_cluster(),
            timeouts,
            health: Arc::default(),
        };
        match first_connection(&connector, timeouts).await {
            Ok(conn) => {
                let _ = cache.conn.set(conn);
            }
            Err(e) => {
                tracing::error!(error = %e, "Redis unreachable at start: serving from fallbacks, connecting in the background");
                cache.health.down.store(true, Ordering::Release);
                tokio::spawn(connect_later(
                    connector,
                    timeouts,
                    Arc::downgrade(&cache.conn),
                    Arc::downgrade(&cache.health),
                ));
            }
        }
        Ok(cache)
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The raw shared connection, outside the health tracking: for tests that
    /// inspect Redis. Application code goes through [`Cache::run`].
    pub fn connection(&self) -> RedisConn {
        self.conn.get().cloned().expect("Redis connected")
    }

    /// Whether `REDIS_URL` names a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// How many users' (or conversations') keys one script call or pipeline
    /// may hold: all of them on one server; on a cluster one's, the only keys
    /// that surely share a slot ([`keys`]). Callers chunk by it and run the
    /// chunks with [`Cache::run_each`].
    pub fn per_call(&self) -> usize {
        if self.cluster {
            1
        } else {
            usize::MAX
        }
    }

    /// False while Redis is considered down (between a failure and the next PONG).
    pub fn is_up(&self) -> bool {
        !self.health.down.load(Ordering::Acquire)
    }

    /// Runs one Redis operation (command, pipeline, script) on the shared
    /// connection, bounded by the response timeout; fails at once while Redis is down.
    pub async fn run<T, F, Fut>(&self, op: F) -> RedisResult<T>
    where
        F: FnOnce(RedisConn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.run_within(self.timeouts.response, op).await
    }

    /// Runs `op` once per item, all at once on the shared connection, bounded
    /// together by one response timeout; the results in the items' order, or
    /// the first failure. For calls split per slot ([`Cache::per_call`]).
    pub async fn run_each<I, T, F, Fut>(&self, items: Vec<I>, op: F) -> RedisResult<Vec<T>>
    where
        F: Fn(RedisConn, I) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.run(|c| {
            futures_util::future::try_join_all(items.into_iter().map(|i| op(c.clone(), i)))
        })
        .await
    }

    async fn run_within<T, F, Fut>(&self, bound: Duration, op: F) -> RedisResult<T>
    where
        F: FnOnce(RedisConn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let Some(conn) = self.conn.get().filter(|_| self.is_up()) else {
            return Err(unavailable());
        };
        // the manager's own timeout covers a command on a live connection, not
        // the wait for a reconnection in progress; this covers both
        let result = match tokio::time::timeout(bound, op(conn.clone())).await {
            Ok(r) => r,
            Err(_) => Err(timed_out()),
        };
        if let Err(e) = &result {
            if is_outage(e) {
                self.mark_down(e);
            }
        }
        result
    }

    fn mark_down(&self, cause: &RedisError) {
        let Some(conn) = self.conn.get().cloned() else {
            return; // not connected yet: `connect_later` is on it
        };
        if self.health.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(error = %cause, "Redis unavailable: serving from fallbacks until it answers again");
        tokio::spawn(probe(
            conn,
            self.prefix.clone(),
            Arc::downgrade(&self.health),
            self.timeouts.response,
        ));
    }

    /// Queues a write that failed because Redis is unreachable, to be sent
    /// before Redis counts as up again.
    pub fn replay_on_recovery(&self, pipe: redis::Pipeline) {
        let Ok(mut pending) = self.health.pending.lock() else {
            return;
        };
        if pending.len() >= MAX_PENDING_REPLAYS {
            pending.pop_front();
            tracing::error!("too many Redis writes waiting for recovery: dropped the oldest");
        }
        pending.push_back(pipe);
        drop(pending);
        if self.is_up() {
            // the failure was not seen as an outage (e.g. one slow answer): probe anyway
            self.mark_down(&timed_out());
        }
    }

    /// PING, bounded by `bound` (the readiness check wants an answer sooner than a request).
    pub async fn ping_within(&self, bound: Duration) -> AppResult<()> {
        let bound = bound.min(self.timeouts.response);
        let prefix = self.prefix.clone();
        self.run_within(bound, |mut c| async move { c.check(&prefix).await })
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> AppResult<Option<String>> {
        let key = self.key(key);
        Ok(self.run(|mut c| async move { c.get(key).await }).await?)
    }

    pub async fn mget(&self, keys: &[String]) -> AppResult<Vec<Option<String>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        // MGET with one key returns a bare value in some clients; always ask for
        // a list. On a cluster one MGET per key, sent at once: the client's own
        // split per slot drops the part for a master it has no connection to.
        let cmds: Vec<redis::Cmd> = full
            .chunks(self.per_call())
            .map(|chunk| redis::cmd("MGET").arg(chunk).clone())
            .collect();
        let values: Vec<Vec<Option<String>>> = self
            .run_each(
                cmds,
                |mut c, cmd| async move { cmd.query_async(&mut c).await },
            )
            .await?;
        Ok(values.into_iter().flatten().collect())
    }

    /// Sets several keys with the same TTL in one pipeline (on a cluster, one
    /// per key, sent at once).
    pub async fn set_many(&self, entries: &[(String, String)], ttl_secs: u64) -> AppResult<()> {
        let pipes: Vec<redis::Pipeline> = entries
            .chunks(self.per_call())
            .map(|chunk| {
                let mut pipe = redis::pipe();
                for (k, v) in chunk {
                    pipe.set_ex(self.key(k), v, ttl_secs).ignore();
                }
                pipe
            })
            .collect();
        self.run_each(pipes, |mut c, pipe| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await?;
        Ok(())
    }

    /// DEL; on a cluster one per key, sent at once (as `mget`).
    pub async fn delete(&self, keys: &[String]) -> AppResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let chunks: Vec<Vec<String>> = full.chunks(self.per_call()).map(<[_]>::to_vec).collect();
        self.run_each(chunks, |mut c, chunk| async move {
            c.del::<_, i64>(chunk).await
        })
        .await?;
        Ok(())
    }

    /// `SET key 1 NX EX ttl`: true when the key was new. Used to refuse replays.
    pub async fn set_once(&self, key: &str, ttl_secs: u64) -> AppResult<bool> {
        let cmd = redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .clone();
        let set: Option<String> = self
            .run(|mut c| async move { cmd.query_async(&mut c).await })
            .await?;
        Ok(set.is_some())
    }
}

async fn first_connection(
    connector: &Connector,
    timeouts: CacheTimeouts,
) -> RedisResult<RedisConn> {
    // a few connection attempts with their backoff, never longer than this
    let bound = timeouts.connect * (RECONNECT_RETRIES as u32 + 1) + timeouts.response;
    tokio::time::timeout(bound, connector.connect())
        .await
        .unwrap_or_else(|_| Err(timed_out()))
}

/// Connects in the background when Redis was down at start, then hands the
/// connection to the cache and marks Redis up (after any queued writes).
async fn connect_later(
    connector: Connector,
    timeouts: CacheTimeouts,
    cell: Weak<OnceLock<RedisConn>>,
    health: Weak<Health>,
) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let (Some(cell), Some(h)) = (cell.upgrade(), health.upgrade()) else {
            return;
        };
        let Ok(mut conn) = first_connection(&connector, timeouts).await else {
            continue;
        };
        if !replay(&mut conn, &h, timeouts.response).await {
            continue;
        }
        let _ = cell.set(conn.clone());
        h.down.store(false, Ordering::Release);
        // writes queued while the first replay ran; a failure keeps them for the next probe
        replay(&mut conn, &h, timeouts.response).await;
        tracing::warn!(
            down_ms = started.elapsed().as_millis() as u64,
            "Redis connected: cache in use"
        );
        return;
    }
}

/// Checks until Redis answers ([`RedisConn::check`]: every master of a
/// cluster), replays the queued writes, then marks it up.
/// Ends early when the cache is gone.
async fn probe(mut conn: RedisConn, prefix: String, health: Weak<Health>, bound: Duration) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let Some(h) = health.upgrade() else { return };
        let pong = tokio::time::timeout(bound, conn.check(&prefix)).await;
        if !matches!(pong, Ok(Ok(_))) {
            continue;
        }
        if !replay(&mut conn, &h, bound).await {
            continue;
        }
        h.down.store(false, Ordering::Release);
        // writes queued while the first replay ran
        if !replay(&mut conn, &h, bound).await {
            h.down.store(true, Ordering::Release);
            continue;
        }
        tracing::warn!(
            down_ms = started.elapsed().as_millis() as u64,
            "Redis answers again: cache back in use"
        );
        return;
    }
}

/// Sends the queued writes in order; on a failure keeps the rest queued.
async fn replay(conn: &mut RedisConn, health: &Health, bound: Duration) -> bool {
    let mut queued = health.take_pending().into_iter();
    while let Some(pipe) = queued.next() {
        match tokio::time::timeout(bound, pipe.query_async::<()>(conn)).await {
            Ok(Ok(())) => {}
            // Redis refused the write itself: retrying cannot help
            Ok(Err(e)) if !is_outage(&e) => {
                tracing::error!(error = %e, "queued Redis write refused; dropped")
            }
            _ => {
                health.requeue(std::iter::once(pipe).chain(queued));
                return false;
            }
        }
    }
    true
}

/// Failures of the connection (on a cluster: of a master), not of a command:
/// these mark Redis down.
fn is_outage(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::ClusterDown
                | ErrorKind::MasterDown
                | ErrorKind::TryAgain
                | ErrorKind::ClusterConnectionNotFound
                // the cluster client follows redirects itself: one that reaches
                // us is a slot whose master it could not reach in its retries
                | ErrorKind::Moved
                | ErrorKind::Ask
        )
}

fn unavailable() -> RedisError {
    RedisError::from((ErrorKind::IoError, "Redis is down (waiting for the probe)"))
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer within the response timeout",
    ))
}
