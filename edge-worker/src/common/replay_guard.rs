//! Refuses a signed core → edge fan-out seen before. The signature check
//! already bounds a request's life to the clock skew; within that window an
//! object remembers the signatures it accepted. Memory only: an object evicted
//! from memory forgets, which the Room backs with its `seq` book and which for
//! user-addressed events at worst repeats a notification.

use std::collections::HashMap;

/// How long a signature is remembered: the signer's replay window.
pub const REPLAY_WINDOW_MS: u64 = shared_auth::internal_sig::REPLAY_WINDOW_SECS * 1_000;

#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: HashMap<String, u64>,
}

impl ReplayGuard {
    /// True the first time `signature` is offered within the window; false
    /// for a replay. Forgets signatures older than the window as it goes.
    pub fn first_sight(&mut self, signature: &str, now_ms: u64) -> bool {
        self.seen
            .retain(|_, at| now_ms.saturating_sub(*at) < REPLAY_WINDOW_MS);
        if self.seen.contains_key(signature) {
            return false;
        }
        self.seen.insert(signature.to_owned(), now_ms);
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once_within_the_window() {
        let mut guard = ReplayGuard::default();
        assert!(guard.first_sight("sig-a", 1_000));
        assert!(!guard.first_sight("sig-a", 1_000));
        assert!(!guard.first_sight("sig-a", 1_000 + REPLAY_WINDOW_MS - 1));
        assert!(guard.first_sight("sig-b", 2_000));
    }

    #[test]
    fn old_signatures_are_forgotten() {
        let mut guard = ReplayGuard::default();
        assert!(guard.first_sight("sig-a", 0));
        assert!(guard.first_sight("sig-b", 10));
        // the window has passed for both: the map does not grow without bound
        assert!(guard.first_sight("sig-c", 10 + REPLAY_WINDOW_MS));
        assert_eq!(guard.len(), 1);
        // past the window a signature would also fail the timestamp check,
        // so accepting it here again lets nothing through
        assert!(guard.first_sight("sig-a", 10 + REPLAY_WINDOW_MS));
    }

    #[test]
    fn a_replay_does_not_extend_its_own_window() {
        let mut guard = ReplayGuard::default();
        assert!(guard.first_sight("sig-a", 0));
        assert!(!guard.first_sight("sig-a", REPLAY_WINDOW_MS - 1));
        assert!(guard.first_sight("sig-a", REPLAY_WINDOW_MS));
    }
}
