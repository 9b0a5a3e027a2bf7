//! In-order release of a conversation's `seq`-numbered events: ascending,
//! no repeats, gaps held briefly, and events about a message held until it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// How long a gap in `seq` may hold back later events before they are
/// released anyway (a lost event must never block the room).
pub const DEFAULT_MAX_HOLD_MS: u64 = 300;
/// Most events held behind a gap; beyond that the oldest gap is skipped.
pub const MAX_HELD_EVENTS: usize = 256;
/// Most skipped seqs remembered, so one that turns up late is still delivered.
pub const MAX_SKIPPED_SEQS: usize = 4096;
/// Seqs just below a starting Room's first event that are still delivered
/// (late, once) if they turn up: two sends committed together may reach the
/// edge in either order, and the Room cannot know which came first.
pub const START_LATE_WINDOW: i64 = 32;

/// In-order delivery keyed by `seq`: ascending, no repeats, gaps held briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqBuffer<T> {
    /// Highest `seq` delivered; `None` before any. A Room starts where its
    /// first event says the conversation stands: that event goes out at once
    /// (the seqs below were delivered before this Room existed, or by an
    /// evicted instance), and the `START_LATE_WINDOW` seqs just below it
    /// count as skipped, so one still on its way is delivered late, once.
    last_delivered: Option<i64>,
    /// Events waiting for a gap to fill: seq → (held since, event).
    held: BTreeMap<i64, (u64, T)>,
    /// Seqs given up on when their gap was skipped. Core numbers without
    /// gaps, so a skipped seq was only late (core publishes after commit,
    /// and two sends committed together may be published in either order;
    /// under load the second can miss the hold): it is delivered when it
    /// comes, out of order, rather than lost.
    #[serde(default)]
    skipped: BTreeSet<i64>,
    /// Events about a message not delivered yet (an edit, a reaction…
    /// pushed by another core replica before the message): its seq →
    /// (held since, event), in arrival order. Released right after that
    /// seq, or when their hold ends.
    #[serde(default = "BTreeMap::new")]
    waiting: BTreeMap<i64, Vec<(u64, T)>>,
    max_hold_ms: u64,
    /// Events that had to wait behind a gap (the Room's counter of holds).
    #[serde(default)]
    holds: u64,
}

impl<T> Default for SeqBuffer<T> {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_HOLD_MS)
    }
}

impl<T> SeqBuffer<T> {
    pub fn new(max_hold_ms: u64) -> Self {
        Self {
            last_delivered: None,
            held: BTreeMap::new(),
            skipped: BTreeSet::new(),
            waiting: BTreeMap::new(),
            max_hold_ms,
            holds: 0,
        }
    }

    /// How many events waited behind a gap so far.
    pub fn holds(&self) -> u64 {
        self.holds
    }

    pub fn last_delivered(&self) -> Option<i64> {
        self.last_delivered
    }

    pub fn held_len(&self) -> usize {
        self.held.len() + self.waiting.values().map(Vec::len).sum::<usize>()
    }

    /// Takes an event that must follow the message numbered `after`: now if
    /// that seq was delivered, else once it is (or when the hold ends).
    /// Returned with `after` as its key.
    pub fn accept_after(&mut self, after: i64, event: T, now_ms: u64) -> Vec<(i64, T)> {
        if self.delivered(after) {
            return vec![(after, event)];
        }
        self.waiting.entry(after).or_default().push((now_ms, event));
        let mut ready = Vec::new();
        while self.waiting.values().map(Vec::len).sum::<usize>() > MAX_HELD_EVENTS {
            if let Some((seq, events)) = self.waiting.pop_first() {
                ready.extend(events.into_iter().map(|(_, e)| (seq, e)));
            }
        }
        ready
    }

    /// Whether `seq` went out (at or below the cursor, and not a skipped
    /// seq still to come).
    fn delivered(&self, seq: i64) -> bool {
        seq <= self.last_delivered.unwrap_or(0) && !self.skipped.contains(&seq)
    }

    /// Appends the waiting events whose message has been delivered.
    fn release_waiting(&mut self, ready: &mut Vec<(i64, T)>) {
        let due: Vec<i64> = self
            .waiting
            .keys()
            .copied()
            .take_while(|s| *s <= self.last_delivered.unwrap_or(0))
            .filter(|s| !self.skipped.contains(s))
            .collect();
        for seq in due {
            if let Some(events) = self.waiting.remove(&seq) {
                ready.extend(events.into_iter().map(|(_, e)| (seq, e)));
            }
        }
    }

    /// Takes one event; returns the events now deliverable, in `seq` order.
    /// Repeats (`seq` ≤ last delivered, or already held) are dropped, except
    /// a seq whose gap was skipped: it is delivered late, once.
    pub fn accept(&mut self, seq: i64, event: T, now_ms: u64) -> Vec<(i64, T)> {
        let mut ready = self.accept_seq(seq, event, now_ms);
        self.release_waiting(&mut ready);
        ready
    }

    fn accept_seq(&mut self, seq: i64, event: T, now_ms: u64) -> Vec<(i64, T)> {
        if seq < 1 {
            return Vec::new(); // core numbers from 1
        }
        let Some(last) = self.last_delivered else {
            // the first event since this Room started: it says where the conversation stands
            let from = seq.saturating_sub(START_LATE_WINDOW).max(1);
            self.skipped.extend(from..seq);
            self.last_delivered = Some(seq);
            return vec![(seq, event)];
        };
        if seq <= last {
            return if self.skipped.remove(&seq) {
                vec![(seq, event)]
            } else {
                Vec::new()
            };
        }
        if self.held.contains_key(&seq) {
            return Vec::new();
        }
        if Some(seq) == last.checked_add(1) {
            self.last_delivered = Some(seq);
            let mut ready = vec![(seq, event)];
            self.drain_consecutive(&mut ready);
            return ready;
        }
        self.held.insert(seq, (now_ms, event));
        self.holds += 1;
        let mut ready = Vec::new();
        while self.held.len() > MAX_HELD_EVENTS {
            self.skip_gap(&mut ready);
        }
        ready
    }

    /// Releases events that have waited `max_hold_ms` behind a gap (and
    /// everything before them). Call from the alarm at `next_flush_at`.
    pub fn flush_due(&mut self, now_ms: u64) -> Vec<(i64, T)> {
        let mut ready = Vec::new();
        while self
            .oldest_held()
            .is_some_and(|since| now_ms.saturating_sub(since) >= self.max_hold_ms)
        {
            self.skip_gap(&mut ready);
        }
        self.release_waiting(&mut ready);
        // events whose message never came in time go out anyway
        let late: Vec<i64> = self
            .waiting
            .iter()
            .filter(|(_, events)| {
                events
                    .iter()
                    .any(|(since, _)| now_ms.saturating_sub(*since) >= self.max_hold_ms)
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in late {
            if let Some(events) = self.waiting.remove(&seq) {
                ready.extend(events.into_iter().map(|(_, e)| (seq, e)));
            }
        }
        ready
    }

    /// When `flush_due` next has something to release, if anything is held.
    pub fn next_flush_at(&self) -> Option<u64> {
        self.oldest_hold()
            .map(|since| since.saturating_add(self.max_hold_ms))
    }

    /// The oldest event held behind a gap or waiting for its message.
    fn oldest_hold(&self) -> Option<u64> {
        let waiting = self.waiting.values().flatten().map(|(since, _)| *since);
        self.oldest_held().into_iter().chain(waiting).min()
    }

    /// The oldest event held behind a gap.
    fn oldest_held(&self) -> Option<u64> {
        self.held.values().map(|(since, _)| *since).min()
    }

    /// Gives up on the lowest gap: delivers the lowest held event and its run.
    fn skip_gap(&mut self, ready: &mut Vec<(i64, T)>) {
        if let Some((seq, (_, event))) = self.held.pop_first() {
            // the most recent skipped seqs only: a jump of millions stays cheap
            let window = MAX_SKIPPED_SEQS as i64;
            let from = self
                .last_delivered
                .unwrap_or(0)
                .saturating_add(1)
                .max(seq.saturating_sub(window));
            self.skipped.extend(from..seq);
            while self.skipped.len() > MAX_SKIPPED_SEQS {
                self.skipped.pop_first();
            }
            self.last_delivered = Some(seq);
            ready.push((seq, event));
            self.drain_consecutive(ready);
        }
    }

    fn drain_consecutive(&mut self, ready: &mut Vec<(i64, T)>) {
        while let Some(next) = self.last_delivered.unwrap_or(0).checked_add(1) {
            let Some((_, event)) = self.held.remove(&next) else {
                break;
            };
            self.last_delivered = Some(next);
            ready.push((next, event));
        }
        // anything at or below the cursor is a repeat now
        if let Some(last) = self.last_delivered {
            self.held.retain(|seq, _| *seq > last);
        }
    }
}
