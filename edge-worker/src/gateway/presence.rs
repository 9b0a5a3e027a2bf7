//! A gateway's presence reports to core, batched: arrivals and departures
//! of users (first and last socket here) accumulate while one report is in
//! flight, and cancel out when core never learnt of them. A full list of the
//! users here goes out every `FULL_REPORT_INTERVAL_MS`, so core's
//! `{user:<id>}:presence` (TTL 300 s) stays fresh without a write per socket.
//! The time of the last full list is kept in the object's storage
//! (`LAST_FULL_REPORT_KEY`), so the cadence survives hibernation: a woken
//! gateway reads it back before deciding.

use std::collections::BTreeMap;

/// How often the full list of present users is reported.
pub const FULL_REPORT_INTERVAL_MS: u64 = 120_000;
/// The storage key holding the time (ms) of the last full report.
pub const LAST_FULL_REPORT_KEY: &str = "presence_full_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Arrived,
    Departed,
}

/// The lists of one report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub arrived: Vec<String>,
    pub departed: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceBatch {
    pending: BTreeMap<String, Change>,
    in_flight: bool,
    last_full_at: Option<u64>,
    /// Whether `last_full_at` was read back from storage since the object woke.
    last_full_known: bool,
}

impl PresenceBatch {
    pub fn arrived(&mut self, user: &str) {
        self.note(user, Change::Arrived);
    }

    pub fn departed(&mut self, user: &str) {
        self.note(user, Change::Departed);
    }

    fn note(&mut self, user: &str, change: Change) {
        match (self.pending.get(user), change) {
            // arrived and left again before core heard: it needs to hear neither
            (Some(Change::Arrived), Change::Departed) => {
                self.pending.remove(user);
            }
            // left and came back: core hears the arrival again, so the user's
            // conversations register this gateway again (a message meanwhile
            // may have pruned it from their notify sets, `local_members`)
            _ => {
                self.pending.insert(user.to_owned(), change);
            }
        }
    }

    /// The next report to send, unless one is in flight or nothing changed.
    pub fn take(&mut self) -> Option<Report> {
        if self.in_flight || self.pending.is_empty() {
            return None;
        }
        self.in_flight = true;
        let mut report = Report::default();
        for (user, change) in std::mem::take(&mut self.pending) {
            match change {
                Change::Arrived => report.arrived.push(user),
                Change::Departed => report.departed.push(user),
            }
        }
        Some(report)
    }

    /// The report in flight was answered.
    pub fn sent(&mut self) {
        self.in_flight = false;
    }

    /// The report in flight failed: its changes go out with the next one,
    /// unless newer changes for the same users superseded them.
    pub fn failed(&mut self, report: Report) {
        self.in_flight = false;
        for user in report.arrived {
            self.pending.entry(user).or_insert(Change::Arrived);
        }
        for user in report.departed {
            self.pending.entry(user).or_insert(Change::Departed);
        }
    }

    /// Whether the stored time of the last full report must be read before
    /// `full_report_due` (true once per wake-up: memory starts empty).
    pub fn needs_stored_last_full(&self) -> bool {
        !self.last_full_known
    }

    /// The time of the last full report as stored (`None`: never stored).
    pub fn restore_last_full(&mut self, stored_ms: Option<u64>) {
        self.last_full_known = true;
        self.last_full_at = self.last_full_at.max(stored_ms);
    }

    /// Whether the full list is due at `now_ms`; records it as sent when so
    /// (the caller then stores `now_ms` under `LAST_FULL_REPORT_KEY`).
    pub fn full_report_due(&mut self, now_ms: u64) -> bool {
        let due = self
            .last_full_at
            .is_none_or(|at| now_ms.saturating_sub(at) >= FULL_REPORT_INTERVAL_MS);
        if due {
            self.last_full_at = Some(now_ms);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_batched_while_a_report_is_in_flight() {
        let mut b = PresenceBatch::default();
        assert_eq!(b.take(), None);
        b.arrived("alice");
        b.arrived("bob");
        let first = b.take().unwrap();
        assert_eq!(first.arrived, ["alice", "bob"]);
        b.departed("carol");
        assert_eq!(b.take(), None, "one report in flight");
        b.sent();
        assert_eq!(
            b.take(),
            Some(Report {
                arrived: vec![],
                departed: vec!["carol".into()]
            })
        );
    }

    #[test]
    fn an_unsent_arrival_and_departure_cancel_out_a_return_is_reported() {
        let mut b = PresenceBatch::default();
        b.arrived("alice");
        b.departed("alice");
        assert_eq!(b.take(), None, "core needs to hear neither");
        b.departed("bob");
        b.arrived("bob");
        assert_eq!(
            b.take(),
            Some(Report {
                arrived: vec!["bob".into()],
                departed: vec![]
            }),
            "bob's conversations register this gateway again"
        );
    }

    #[test]
    fn a_failed_report_is_retried_unless_superseded() {
        let mut b = PresenceBatch::default();
        b.arrived("alice");
        b.arrived("bob");
        let report = b.take().unwrap();
        b.departed("bob");
        b.failed(report);
        let retry = b.take().unwrap();
        assert_eq!(retry.arrived, ["alice"]);
        assert_eq!(retry.departed, ["bob"]);
    }

    #[test]
    fn the_full_list_goes_out_at_start_and_then_every_interval() {
        let mut b = PresenceBatch::default();
        assert!(b.full_report_due(1_000));
        assert!(!b.full_report_due(1_000 + FULL_REPORT_INTERVAL_MS - 1));
        assert!(b.full_report_due(1_000 + FULL_REPORT_INTERVAL_MS));
    }

    #[test]
    fn the_cadence_survives_hibernation_through_the_stored_time() {
        // a gateway reports, hibernates and wakes at the next ping round
        let mut before = PresenceBatch::default();
        assert!(before.needs_stored_last_full());
        before.restore_last_full(None);
        assert!(before.full_report_due(1_000), "never reported: due at once");
        let stored = Some(1_000);
        // memory is gone after hibernation: a new batch, the stored time read back
        let mut woken = PresenceBatch::default();
        assert!(woken.needs_stored_last_full());
        woken.restore_last_full(stored);
        assert!(!woken.needs_stored_last_full(), "read once per wake-up");
        assert!(
            !woken.full_report_due(1_000 + 25_000),
            "one ping interval later: not due again"
        );
        assert!(!woken.full_report_due(1_000 + FULL_REPORT_INTERVAL_MS - 1));
        assert!(woken.full_report_due(1_000 + FULL_REPORT_INTERVAL_MS));
    }
}
