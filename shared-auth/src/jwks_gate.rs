//! When the TMS JWKS may be fetched for a token with an unknown `kid`; the one
//! policy of edge (per isolate) and core (per process). The first unknown `kid`
//! starts a fetch, requests arriving meanwhile wait for it rather than failing,
//! and after a fetch completes (well or not) none starts again for the least
//! interval, so a flood of made-up `kid`s cannot hammer TMS. Pure: the caller
//! passes its clock's time in milliseconds and does the fetching.

/// Least time between the end of one fetch and the start of the next, unless
/// configured (`JWKS_MIN_REFRESH_SECS`).
pub const DEFAULT_MIN_REFRESH_INTERVAL_MS: u64 = 30_000;
/// Longest a request waits for someone else's fetch.
pub const MAX_WAIT_MS: u64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Fetch now, then call `finish`.
    Fetch,
    /// A fetch is in flight: wait, then verify again with whatever keys it loaded.
    Wait,
    /// Fetched recently: verify with the keys there are.
    Throttled,
}

#[derive(Debug, Default)]
pub struct JwksGate {
    /// When the fetch in flight started.
    in_flight_since_ms: Option<u64>,
    last_finished_ms: Option<u64>,
}

impl JwksGate {
    /// Decides for one request that met an unknown `kid`; `Fetch` marks a
    /// fetch in flight until [`JwksGate::finish`].
    pub fn begin(&mut self, now_ms: u64, min_interval_ms: u64) -> RefreshDecision {
        // a fetch that never finished (its request was dropped) blocks no one for long
        if self
            .in_flight_since_ms
            .is_some_and(|since| now_ms.saturating_sub(since) < 2 * MAX_WAIT_MS)
        {
            return RefreshDecision::Wait;
        }
        if self
            .last_finished_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < min_interval_ms)
        {
            return RefreshDecision::Throttled;
        }
        self.in_flight_since_ms = Some(now_ms);
        RefreshDecision::Fetch
    }

    /// The fetch ended, well or not: the interval counts from now.
    pub fn finish(&mut self, now_ms: u64) {
        self.in_flight_since_ms = None;
        self.last_finished_ms = Some(now_ms);
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight_since_ms.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: u64 = DEFAULT_MIN_REFRESH_INTERVAL_MS;

    #[test]
    fn the_first_unknown_kid_fetches_and_the_others_wait_for_it() {
        let mut gate = JwksGate::default();
        assert_eq!(gate.begin(0, INTERVAL), RefreshDecision::Fetch);
        assert_eq!(gate.begin(5, INTERVAL), RefreshDecision::Wait);
        assert_eq!(gate.begin(10, INTERVAL), RefreshDecision::Wait);
        assert!(gate.in_flight());
        gate.finish(200);
        assert!(!gate.in_flight());
    }

    #[test]
    fn an_abandoned_fetch_is_taken_over() {
        let mut gate = JwksGate::default();
        assert_eq!(gate.begin(0, INTERVAL), RefreshDecision::Fetch);
        assert_eq!(
            gate.begin(2 * MAX_WAIT_MS - 1, INTERVAL),
            RefreshDecision::Wait
        );
        assert_eq!(
            gate.begin(2 * MAX_WAIT_MS, INTERVAL),
            RefreshDecision::Fetch
        );
    }

    #[test]
    fn the_interval_counts_from_the_end_of_the_fetch() {
        let mut gate = JwksGate::default();
        assert_eq!(gate.begin(0, INTERVAL), RefreshDecision::Fetch);
        // a slow fetch: the interval must not have been used up while it ran
        gate.finish(20_000);
        assert_eq!(
            gate.begin(20_000 + INTERVAL - 1, INTERVAL),
            RefreshDecision::Throttled
        );
        assert_eq!(
            gate.begin(20_000 + INTERVAL, INTERVAL),
            RefreshDecision::Fetch
        );
    }
}
