//! Per-user rate limits, global across core replicas and edge locations: one
//! GCRA key per user and kind in Redis (`{user:<id>}:ratelimit:<kind>`),
//! checked and updated by one Lua script, so concurrent requests on any
//! replica count exactly once. The time comes from the injected clock (passed
//! to the script), not from Redis, so tests are deterministic.
//!
//! Other features call [`RateLimiter::enforce`] with their [`LimitKind`]
//! (e.g. the upload-URL route with `LimitKind::UploadUrl`).
//!
//! Redis down: the check is skipped (fail open), counted in
//! `rate_limit_unenforced_total` and logged at most every 10 s. Failing closed
//! would stop every REST call and socket send for the length of a Redis
//! outage; the edge's per-socket guard still bounds each socket meanwhile.

pub mod budget;
pub mod gcra;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};

use crate::cache::{keys, Cache};
use crate::clock::Clock;
use crate::config::RateLimitSettings;
use crate::error::{AppError, AppResult};
use crate::metrics::{KindLabels, Metrics};
pub use budget::{LimitKind, RateStatus};
pub use gcra::Quota;

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Allowed(RateStatus),
    Limited(RateStatus),
    /// Redis could not be asked: let through (fail open).
    Unenforced,
}

/// KEYS: the user's key. ARGV: now (µs), emission interval (µs), burst.
/// Returns {allowed, remaining, retry_after_us, reset_after_us}; the same
/// steps as `gcra::check`. `%d` keeps the TAT an exact integer (tostring
/// would write 1.7e+15). The key outlives its TAT by a minute: a TAT in the
/// past reads as no key at all, so expiry (Redis's clock) never decides
/// anything while Redis and core's clocks differ by less than that.
static GCRA: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local now = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local burst = tonumber(ARGV[3])
        local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
        if tat < now then tat = now end
        local new_tat = tat + interval
        local slack = now - (new_tat - interval * burst)
        if slack < 0 then
            return {0, 0, -slack, tat - now}
        end
        local ttl_ms = math.ceil((new_tat - now) / 1000) + 60000
        redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
        return {1, math.floor(slack / interval), 0, new_tat - now}
        ",
    )
});

/// Least time between two "not enforced" warnings.
const WARN_EVERY_MS: i64 = 10_000;

#[derive(Clone)]
pub struct RateLimiter {
    cache: Cache,
    clock: Arc<dyn Clock>,
    settings: RateLimitSettings,
    metrics: Metrics,
    /// Unix ms of the last "not enforced" warning.
    warned_at: Arc<AtomicI64>,
}

impl RateLimiter {
    pub fn new(
        cache: Cache,
        clock: Arc<dyn Clock>,
        settings: RateLimitSettings,
        metrics: Metrics,
    ) -> Self {
        Self {
            cache,
            clock,
            settings,
            metrics,
            warned_at: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    pub fn quota(&self, kind: LimitKind) -> Quota {
        match kind {
            LimitKind::Api => Quota::per_minute(self.settings.api_per_minute),
            LimitKind::SocketSend => Quota::per_second(self.settings.socket_sends_per_second),
            LimitKind::UploadUrl => Quota::per_minute(self.settings.upload_urls_per_minute),
            LimitKind::SocketJoin => Quota::per_second(self.settings.socket_joins_per_second),
            LimitKind::SocketReceipt => Quota::per_second(self.settings.socket_receipts_per_second),
            LimitKind::SocketCall => Quota::per_second(self.settings.socket_call_events_per_second),
        }
    }

    /// Counts one request of `kind` for the user, if it fits.
    pub async fn check(&self, tms_user_id: &str, kind: LimitKind) -> Checked {
        let quota = self.quota(kind);
        let now = self.clock.now();
        let key = self
            .cache
            .key(&keys::rate_limit(tms_user_id, kind.as_str()));
        let mut invocation = GCRA.key(key);
        invocation
            .arg(now.timestamp_micros())
            .arg(quota.interval_us())
            .arg(quota.burst());
        let answer: redis::RedisResult<(i64, i64, i64, i64)> = self
            .cache
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await;
        let (allowed, remaining, retry_after_us, reset_after_us) = match answer {
            Ok(a) => a,
            Err(e) => {
                self.unenforced(kind, now.timestamp_millis(), &e);
                return Checked::Unenforced;
            }
        };
        let outcome = gcra::Outcome {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after_us,
            reset_after_us,
        };
        let status = RateStatus::from_outcome(kind, quota, outcome);
        if outcome.allowed {
            Checked::Allowed(status)
        } else {
            self.metrics
                .rate_limited
                .get_or_create(&KindLabels {
                    kind: kind.as_str(),
                })
                .inc();
            Checked::Limited(status)
        }
    }

    /// As `check`, for a handler: a refusal is the 429 `RATE_LIMITED` error.
    /// `None` when the limit could not be checked (Redis down, let through).
    pub async fn enforce(
        &self,
        tms_user_id: &str,
        kind: LimitKind,
    ) -> AppResult<Option<RateStatus>> {
        match self.check(tms_user_id, kind).await {
            Checked::Allowed(status) => Ok(Some(status)),
            Checked::Limited(status) => Err(AppError::RateLimited(status)),
            Checked::Unenforced => Ok(None),
        }
    }

    fn unenforced(&self, kind: LimitKind, now_ms: i64, cause: &redis::RedisError) {
        self.metrics
            .rate_limit_unenforced
            .get_or_create(&KindLabels {
                kind: kind.as_str(),
            })
            .inc();
        let last = self.warned_at.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .warned_at
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(kind = kind.as_str(), error = %cause, "rate limits not enforced: Redis unavailable (failing open)");
        }
    }
}
