//! What each object counts about itself, for the benchmark and for ops:
//! `POST /internal/v1/stats` (signed), and one JSON log line (`log_line`)
//! per gateway heartbeat round and per Room at most once a minute, which
//! `wrangler tail --format json` shows (docs/operations.md, "Metrics"). Counters
//! live in memory since the object was created; `instance` changes when it
//! is re-created.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectCounters {
    /// Random per object life: a change means the counters restarted.
    pub instance: String,
    /// `fetch` calls (object requests), the stats calls themselves excluded.
    pub requests: u64,
    pub alarms: u64,
    /// Storage puts and deletes, and `set_alarm` calls (billed as writes).
    pub storage_writes: u64,
    /// `websocket_message` calls (gateways): Rust woken by a client frame.
    pub ws_messages: u64,
    /// Sockets held now (gateways).
    pub sockets: u64,
    /// Frames written to sockets (gateways).
    pub frames_sent: u64,
    /// Events accepted from core (rooms).
    pub events: u64,
    /// Calls to core carrying socket sends (gateways), and the sends in them.
    #[serde(default)]
    pub send_batches: u64,
    #[serde(default)]
    pub sends: u64,
    /// `seq` events held behind a gap (rooms): none after a start or an eviction.
    #[serde(default)]
    pub holds: u64,
    /// Calls to core asking whether held sockets' users are still members
    /// (gateways; one per removal per gateway with joined sockets, at most),
    /// and those that failed (their frames were not written).
    #[serde(default)]
    pub member_checks: u64,
    #[serde(default)]
    pub member_checks_failed: u64,
    /// Calls to core asking which users here are members of a conversation
    /// whose new message notifies (gateways; `local_members`), those that
    /// failed (nobody here was notified of that message), and the prunes
    /// asked of core (no member here any more).
    #[serde(default)]
    pub notify_checks: u64,
    #[serde(default)]
    pub notify_checks_failed: u64,
    #[serde(default)]
    pub notify_prunes: u64,
    /// Wall-clock ms during which the object had work in progress (a request,
    /// a WebSocket event, an alarm or a task it keeps alive), overlaps counted
    /// once (`ActiveClock`): what Cloudflare bills as duration for an object
    /// that may hibernate when idle. × 128 MB gives GB-s.
    #[serde(default)]
    pub active_ms: u64,
}

/// Wall-clock time with work in progress: `enter` when a piece of work
/// starts, `leave` when it ends; time is counted while at least one runs,
/// so concurrent requests are not counted twice.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ActiveClock {
    in_flight: u32,
    since_ms: u64,
    total_ms: u64,
}

impl ActiveClock {
    pub fn enter(&mut self, now_ms: u64) {
        if self.in_flight == 0 {
            self.since_ms = now_ms;
        }
        self.in_flight += 1;
    }

    pub fn leave(&mut self, now_ms: u64) {
        if self.in_flight == 0 {
            return;
        }
        self.in_flight -= 1;
        if self.in_flight == 0 {
            self.total_ms += now_ms.saturating_sub(self.since_ms);
        }
    }

    /// Active ms so far, the running stretch included.
    pub fn total_ms(&self, now_ms: u64) -> u64 {
        if self.in_flight == 0 {
            self.total_ms
        } else {
            self.total_ms + now_ms.saturating_sub(self.since_ms)
        }
    }
}

/// Body of `POST /internal/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRequest {
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(default)]
    pub conversations: Vec<uuid::Uuid>,
}

/// Answer of `POST /internal/v1/stats`: counters by gateway name and by conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub gateways: std::collections::BTreeMap<String, ObjectCounters>,
    pub rooms: std::collections::BTreeMap<uuid::Uuid, ObjectCounters>,
}

/// Least time between two log lines of one Room (rooms have no heartbeat).
pub const ROOM_LOG_EVERY_MS: u64 = 60_000;

/// `{"event":"edge_counters","object":"gateway"|"room","name":…,<counters>}`:
/// one line of `console.log`, so log tools can parse and filter it.
pub fn log_line(object: &str, name: &str, counters: &ObjectCounters) -> String {
    #[derive(Serialize)]
    struct Line<'a> {
        event: &'static str,
        object: &'a str,
        name: &'a str,
        #[serde(flatten)]
        counters: &'a ObjectCounters,
    }
    serde_json::to_string(&Line {
        event: "edge_counters",
        object,
        name,
        counters,
    })
    .unwrap_or_default()
}

/// Spaces log lines out: `due` is true at most once per `every_ms`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogThrottle {
    last_ms: Option<u64>,
}

impl LogThrottle {
    pub fn due(&mut self, now_ms: u64, every_ms: u64) -> bool {
        match self.last_ms {
            Some(last) if now_ms.saturating_sub(last) < every_ms => false,
            _ => {
                self.last_ms = Some(now_ms);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_is_flat_json_with_every_counter() {
        let counters = ObjectCounters {
            instance: "i1".into(),
            requests: 7,
            sockets: 3,
            frames_sent: 12,
            send_batches: 2,
            sends: 9,
            ..Default::default()
        };
        let line: serde_json::Value =
            serde_json::from_str(&log_line("gateway", "local.0", &counters)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "event": "edge_counters", "object": "gateway", "name": "local.0",
                "instance": "i1", "requests": 7, "alarms": 0, "storage_writes": 0,
                "ws_messages": 0, "sockets": 3, "frames_sent": 12, "events": 0,
                "send_batches": 2, "sends": 9, "holds": 0, "member_checks": 0,
                "member_checks_failed": 0, "notify_checks": 0,
                "notify_checks_failed": 0, "notify_prunes": 0, "active_ms": 0
            })
        );
    }

    #[test]
    fn active_time_counts_overlapping_work_once() {
        let mut clock = ActiveClock::default();
        clock.enter(1_000);
        clock.enter(1_005); // a second request while the first runs
        clock.leave(1_010);
        assert_eq!(clock.total_ms(1_012), 12, "the running stretch counts");
        clock.leave(1_020);
        // idle between 1,020 and 5,000: not counted
        clock.enter(5_000);
        clock.leave(5_003);
        assert_eq!(clock.total_ms(9_999), 23);
        // a stray leave does not underflow
        clock.leave(10_000);
        assert_eq!(clock.total_ms(10_000), 23);
    }

    #[test]
    fn the_throttle_lets_one_line_through_per_interval() {
        let mut t = LogThrottle::default();
        assert!(t.due(1_000, 60_000));
        assert!(!t.due(30_000, 60_000));
        assert!(!t.due(60_999, 60_000));
        assert!(t.due(61_000, 60_000));
    }
}
