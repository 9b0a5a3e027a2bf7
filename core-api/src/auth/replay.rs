//! Process-local record of the internal signatures seen within the replay
//! window. Redis (`SET NX`) is the shared record across replicas; this one is
//! kept alongside it so that replays to this replica are still refused while
//! Redis is down, and the edge can keep sending (see docs/operations.md, "When things fail").

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Bounds memory: about 120 s of signatures at ~1,600 internal calls per second.
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First sight: recorded.
    New,
    /// Recorded before, within the window: a replay.
    Replay,
    /// Not recorded: the record is full of unexpired signatures.
    Full,
}

#[derive(Default)]
pub struct LocalReplays(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    expires: HashMap<String, u64>,
    /// Insertion order; expiry times only grow, so the front expires first.
    order: VecDeque<(u64, String)>,
}

impl LocalReplays {
    /// Records `signature` until `now + ttl_secs` unless it is already recorded.
    pub fn check_and_record(&self, signature: &str, now: u64, ttl_secs: u64) -> Seen {
        let Ok(mut inner) = self.0.lock() else {
            return Seen::Full;
        };
        while inner.order.front().is_some_and(|(exp, _)| *exp <= now) {
            if let Some((_, sig)) = inner.order.pop_front() {
                inner.expires.remove(&sig);
            }
        }
        if inner.expires.get(signature).is_some_and(|exp| *exp > now) {
            return Seen::Replay;
        }
        if inner.expires.len() >= MAX_ENTRIES {
            return Seen::Full;
        }
        let exp = now + ttl_secs;
        inner.expires.insert(signature.to_string(), exp);
        inner.order.push_back((exp, signature.to_string()));
        Seen::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_replay_until_the_window_ends() {
        let r = LocalReplays::default();
        assert_eq!(r.check_and_record("a", 100, 122), Seen::New);
        assert_eq!(r.check_and_record("a", 221, 122), Seen::Replay);
        assert_eq!(r.check_and_record("b", 221, 122), Seen::New);
        // expired: the timestamp check refuses such a request before this anyway
        assert_eq!(r.check_and_record("a", 222, 122), Seen::New);
    }
}
