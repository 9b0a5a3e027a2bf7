//! Local per-socket message-rate guard: GCRA (generic cell rate algorithm),
//! which is a token bucket kept as one timestamp. Pure: `now_ms` is injected.
//! The authoritative per-user limit lives at core (Redis); this only keeps a
//! flood from one socket from ever leaving the edge.

use serde::{Deserialize, Serialize};
use shared_types::limits::WS_MESSAGES_PER_SECOND;

/// Sustained rate and burst size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    /// How many messages may arrive at once after a quiet period.
    pub burst: u32,
}

/// 10 messages/s per socket with a burst of 10.
pub const WS_SOCKET_LIMIT: RateLimit = RateLimit {
    per_second: WS_MESSAGES_PER_SECOND,
    burst: 10,
};

impl RateLimit {
    /// Time between two messages at the sustained rate, in microseconds
    /// (so rates that don't divide 1000 ms stay exact enough).
    fn emission_interval_us(self) -> u64 {
        1_000_000 / u64::from(self.per_second.max(1))
    }

    /// How far ahead of `now` the theoretical arrival time may run.
    fn tolerance_us(self) -> u64 {
        self.emission_interval_us() * u64::from(self.burst.max(1) - 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after_ms: u64 },
}

/// The GCRA state: the theoretical arrival time of the next message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateGuard {
    #[serde(rename = "t")]
    tat_us: u64,
}

impl RateGuard {
    /// Counts one message at `now_ms` if it fits; a refused message costs nothing.
    pub fn check(&mut self, limit: RateLimit, now_ms: u64) -> RateDecision {
        let now_us = now_ms.saturating_mul(1_000);
        let tat = self.tat_us.max(now_us);
        let ahead = tat - now_us;
        if ahead > limit.tolerance_us() {
            let wait_us = ahead - limit.tolerance_us();
            return RateDecision::Limited {
                retry_after_ms: wait_us.div_ceil(1_000),
            };
        }
        self.tat_us = tat.saturating_add(limit.emission_interval_us());
        RateDecision::Allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_allowed(guard: &mut RateGuard, limit: RateLimit, now_ms: u64, n: usize) -> usize {
        (0..n)
            .filter(|_| guard.check(limit, now_ms) == RateDecision::Allowed)
            .count()
    }

    #[test]
    fn burst_of_ten_then_limited() {
        let mut g = RateGuard::default();
        assert_eq!(count_allowed(&mut g, WS_SOCKET_LIMIT, 1_000, 10), 10);
        assert_eq!(
            g.check(WS_SOCKET_LIMIT, 1_000),
            RateDecision::Limited {
                retry_after_ms: 100
            }
        );
    }

    #[test]
    fn sustained_ten_per_second() {
        let mut g = RateGuard::default();
        count_allowed(&mut g, WS_SOCKET_LIMIT, 0, 10);
        // afterwards exactly one message per 100 ms
        for step in 1..=50u64 {
            let now = step * 100;
            assert_eq!(
                g.check(WS_SOCKET_LIMIT, now),
                RateDecision::Allowed,
                "at {now}"
            );
            assert!(matches!(
                g.check(WS_SOCKET_LIMIT, now),
                RateDecision::Limited { .. }
            ));
        }
    }

    #[test]
    fn retry_after_is_exact_and_honest() {
        let mut g = RateGuard::default();
        count_allowed(&mut g, WS_SOCKET_LIMIT, 0, 10);
        assert_eq!(
            g.check(WS_SOCKET_LIMIT, 30),
            RateDecision::Limited { retry_after_ms: 70 }
        );
        assert_eq!(
            g.check(WS_SOCKET_LIMIT, 99),
            RateDecision::Limited { retry_after_ms: 1 }
        );
        assert_eq!(g.check(WS_SOCKET_LIMIT, 100), RateDecision::Allowed);
    }

    #[test]
    fn quiet_period_refills_the_burst_but_not_beyond() {
        let mut g = RateGuard::default();
        count_allowed(&mut g, WS_SOCKET_LIMIT, 0, 10);
        assert_eq!(count_allowed(&mut g, WS_SOCKET_LIMIT, 60_000, 25), 10);
    }

    #[test]
    fn refused_messages_do_not_extend_the_penalty() {
        let mut g = RateGuard::default();
        count_allowed(&mut g, WS_SOCKET_LIMIT, 0, 10);
        assert_eq!(count_allowed(&mut g, WS_SOCKET_LIMIT, 50, 1_000), 0);
        assert_eq!(g.check(WS_SOCKET_LIMIT, 100), RateDecision::Allowed);
    }

    #[test]
    fn degenerate_limits_do_not_divide_by_zero() {
        let mut g = RateGuard::default();
        let zero = RateLimit {
            per_second: 0,
            burst: 0,
        };
        assert_eq!(g.check(zero, 0), RateDecision::Allowed);
        assert_eq!(
            g.check(zero, 0),
            RateDecision::Limited {
                retry_after_ms: 1_000
            }
        );
        let mut far = RateGuard::default();
        assert_eq!(far.check(WS_SOCKET_LIMIT, u64::MAX), RateDecision::Allowed);
    }

    #[test]
    fn clock_going_backwards_is_safe() {
        let mut g = RateGuard::default();
        count_allowed(&mut g, WS_SOCKET_LIMIT, 10_000, 10);
        assert!(matches!(
            g.check(WS_SOCKET_LIMIT, 5_000),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn compact_serde() {
        let mut g = RateGuard::default();
        g.check(WS_SOCKET_LIMIT, 2);
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(json, r#"{"t":102000}"#);
        assert_eq!(serde_json::from_str::<RateGuard>(&json).unwrap(), g);
    }
}
