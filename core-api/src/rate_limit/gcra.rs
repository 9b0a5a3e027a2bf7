//! GCRA (generic cell rate algorithm) as a pure function. Its whole state is
//! one timestamp, the theoretical arrival time (TAT) of the next request, so
//! Redis holds one key per user and kind. The Lua script in `mod.rs` runs the
//! very same steps atomically in Redis; tests compare the two.
//!
//! A quota of `limit` per `period` allows a burst of `limit` after a quiet
//! period, then one request per `period / limit`. Times are microseconds
//! since the Unix epoch (exact in Lua's doubles until the year 2255).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per `period`, which is also the burst.
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn per_second(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(1),
        }
    }

    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period: Duration::from_secs(60),
        }
    }

    /// Time between two requests at the sustained rate (the emission interval).
    pub fn interval_us(self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        (period / i64::from(self.limit.max(1))).max(1)
    }

    pub fn burst(self) -> i64 {
        i64::from(self.limit.max(1))
    }
}

/// What one check decided, and what the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// Requests that would still be allowed right now, after this one.
    pub remaining: u32,
    /// Until the next request would be allowed; 0 when this one was.
    pub retry_after_us: i64,
    /// Until the whole burst is available again.
    pub reset_after_us: i64,
}

/// Counts one request at `now_us` against `quota`, given the stored TAT (none
/// when the key is absent or expired). Returns the outcome and the TAT to
/// store: `None` for a refused request, which costs nothing.
pub fn check(quota: Quota, stored_tat_us: Option<i64>, now_us: i64) -> (Outcome, Option<i64>) {
    let interval = quota.interval_us();
    let tat = stored_tat_us.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(interval);
    // the earliest time at which this request fits in the burst
    let allow_at = new_tat.saturating_sub(interval.saturating_mul(quota.burst()));
    let slack = now_us - allow_at;
    if slack < 0 {
        let outcome = Outcome {
            allowed: false,
            remaining: 0,
            retry_after_us: -slack,
            reset_after_us: tat - now_us,
        };
        return (outcome, None);
    }
    let outcome = Outcome {
        allowed: true,
        remaining: u32::try_from(slack / interval).unwrap_or(u32::MAX),
        retry_after_us: 0,
        reset_after_us: new_tat - now_us,
    };
    (outcome, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` checks at `now`, threading the stored TAT; returns the outcomes.
    fn burst(quota: Quota, tat: &mut Option<i64>, now: i64, n: usize) -> Vec<Outcome> {
        (0..n)
            .map(|_| {
                let (o, next) = check(quota, *tat, now);
                if next.is_some() {
                    *tat = next;
                }
                o
            })
            .collect()
    }

    const T0: i64 = 1_700_000_000_000_000;

    #[test]
    fn a_full_burst_then_refusal_with_exact_retry_after() {
        let q = Quota::per_minute(100);
        let mut tat = None;
        let out = burst(q, &mut tat, T0, 101);
        assert!(out[..100].iter().all(|o| o.allowed));
        assert_eq!(out[0].remaining, 99);
        assert_eq!(out[99].remaining, 0);
        assert_eq!(out[99].reset_after_us, 60_000_000);
        let refused = out[100];
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_us, 600_000, "one emission interval");
        assert_eq!(refused.reset_after_us, 60_000_000);
    }

    #[test]
    fn the_budget_refills_at_the_sustained_rate() {
        let q = Quota::per_second(10);
        let mut tat = None;
        burst(q, &mut tat, T0, 10);
        let (o, _) = check(q, tat, T0 + 99_999);
        assert!(!o.allowed);
        assert_eq!(o.retry_after_us, 1);
        let out = burst(q, &mut tat, T0 + 100_000, 2);
        assert!(out[0].allowed, "one interval later: one more");
        assert!(!out[1].allowed);
        // after a quiet second the whole burst is back, and no more
        let out = burst(q, &mut tat, T0 + 5_000_000, 11);
        assert_eq!(out.iter().filter(|o| o.allowed).count(), 10);
    }

    #[test]
    fn refusals_do_not_extend_the_wait() {
        let q = Quota::per_minute(5);
        let mut tat = None;
        burst(q, &mut tat, T0, 5);
        let stored = tat;
        let out = burst(q, &mut tat, T0 + 1_000, 50);
        assert!(out.iter().all(|o| !o.allowed));
        assert_eq!(tat, stored, "refused requests store nothing");
        let (o, _) = check(q, tat, T0 + 12_000_000);
        assert!(o.allowed, "5/min: one every 12 s");
    }

    #[test]
    fn an_expired_or_stale_tat_counts_as_a_fresh_start() {
        let q = Quota::per_second(10);
        let (o, next) = check(q, Some(T0 - 10_000_000), T0);
        assert!(o.allowed);
        assert_eq!(o.remaining, 9);
        assert_eq!(next, Some(T0 + 100_000));
    }

    #[test]
    fn degenerate_quotas_do_not_divide_by_zero() {
        let q = Quota {
            limit: 0,
            period: Duration::ZERO,
        };
        assert_eq!(q.interval_us(), 1);
        let (o, _) = check(q, None, T0);
        assert!(o.allowed);
        assert_eq!(o.remaining, 0);
    }
}
