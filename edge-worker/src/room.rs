//! The Room object's bookkeeping for one conversation: which sessions have
//! joined `conversation:{id}`, and in-order delivery of `seq`-numbered events.
//! Its cost follows the joined sessions, never the member count. Pure and
//! serializable so the object can keep it in Durable Object storage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How long a gap in `seq` may hold back later events before they are
/// released anyway (a lost event must never block the room).
pub const DEFAULT_MAX_HOLD_MS: u64 = 300;
/// Most events held behind a gap; beyond that the oldest gap is skipped.
pub const MAX_HELD_EVENTS: usize = 256;

/// In-order delivery keyed by `seq`: ascending, no repeats, gaps held briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqBuffer<T> {
    /// Highest `seq` delivered; `None` before any. Core numbers each
    /// conversation from 1 without gaps, so `None` behaves as 0: a first
    /// event above 1 waits (at most `max_hold_ms`) for lower ones that may
    /// still be on their way, rather than making them repeats.
    last_delivered: Option<i64>,
    /// Events waiting for a gap to fill: seq → (held since, event).
    held: BTreeMap<i64, (u64, T)>,
    max_hold_ms: u64,
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
            max_hold_ms,
        }
    }

    pub fn last_delivered(&self) -> Option<i64> {
        self.last_delivered
    }

    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Takes one event; returns the events now deliverable, in `seq` order.
    /// Repeats (`seq` ≤ last delivered, or already held) are dropped.
    pub fn accept(&mut self, seq: i64, event: T, now_ms: u64) -> Vec<(i64, T)> {
        let last = self.last_delivered.unwrap_or(0);
        if seq <= last || self.held.contains_key(&seq) {
            return Vec::new();
        }
        if Some(seq) == last.checked_add(1) {
            self.last_delivered = Some(seq);
            let mut ready = vec![(seq, event)];
            self.drain_consecutive(&mut ready);
            return ready;
        }
        self.held.insert(seq, (now_ms, event));
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
            .oldest_hold()
            .is_some_and(|since| now_ms.saturating_sub(since) >= self.max_hold_ms)
        {
            self.skip_gap(&mut ready);
        }
        ready
    }

    /// When `flush_due` next has something to release, if anything is held.
    pub fn next_flush_at(&self) -> Option<u64> {
        self.oldest_hold()
            .map(|since| since.saturating_add(self.max_hold_ms))
    }

    fn oldest_hold(&self) -> Option<u64> {
        self.held.values().map(|(since, _)| *since).min()
    }

    /// Gives up on the lowest gap: delivers the lowest held event and its run.
    fn skip_gap(&mut self, ready: &mut Vec<(i64, T)>) {
        if let Some((seq, (_, event))) = self.held.pop_first() {
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

/// One conversation's room: joined sessions and ordered fan-out of frames.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// session id → the `tms_user_id` it is authenticated as.
    sessions: BTreeMap<String, String>,
    /// Encoded frames waiting for their turn.
    order: SeqBuffer<String>,
}

impl Room {
    pub fn with_max_hold_ms(max_hold_ms: u64) -> Self {
        Self {
            sessions: BTreeMap::new(),
            order: SeqBuffer::new(max_hold_ms),
        }
    }

    /// Returns false if the session had already joined (as the same user).
    pub fn join(&mut self, session_id: &str, tms_user_id: &str) -> bool {
        self.sessions
            .insert(session_id.to_owned(), tms_user_id.to_owned())
            .as_deref()
            != Some(tms_user_id)
    }

    /// Removes the session if it joined as `tms_user_id`.
    pub fn leave(&mut self, session_id: &str, tms_user_id: &str) -> bool {
        if self.sessions.get(session_id).map(String::as_str) != Some(tms_user_id) {
            return false;
        }
        self.sessions.remove(session_id).is_some()
    }

    /// Removes the session whoever it joined as (socket closed).
    pub fn leave_all_for_session(&mut self, session_id: &str) -> bool {
        self.sessions.remove(session_id).is_some()
    }

    /// Removes every session of a user (removed from the conversation);
    /// returns their ids so the glue can tell those sessions.
    pub fn leave_all_for_user(&mut self, tms_user_id: &str) -> Vec<String> {
        let gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, user)| *user == tms_user_id)
            .map(|(s, _)| s.clone())
            .collect();
        for session in &gone {
            self.sessions.remove(session);
        }
        gone
    }

    pub fn contains_session(&self, session_id: &str) -> bool {
        self.sessions.contains_key(session_id)
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions to deliver to. `exclude_user` drops all sessions of that user
    /// (typing); `None` includes the sender's other devices (new_message).
    pub fn recipients(&self, exclude_user: Option<&str>) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, user)| exclude_user != Some(user.as_str()))
            .map(|(session, _)| session.clone())
            .collect()
    }

    /// Queues a frame for delivery. `seq: Some` for events that carry a new
    /// per-conversation `seq` (new messages): delivered in order, repeats
    /// dropped. `None` (typing, edits, status) bypasses ordering.
    /// Returns the frames to send now, in order.
    pub fn publish(&mut self, seq: Option<i64>, frame: String, now_ms: u64) -> Vec<String> {
        match seq {
            None => vec![frame],
            Some(seq) => self
                .order
                .accept(seq, frame, now_ms)
                .into_iter()
                .map(|(_, f)| f)
                .collect(),
        }
    }

    /// Frames released because their gap waited too long; call at `next_flush_at`.
    pub fn flush_due(&mut self, now_ms: u64) -> Vec<String> {
        self.order
            .flush_due(now_ms)
            .into_iter()
            .map(|(_, f)| f)
            .collect()
    }

    /// When the Room object's alarm should fire for held frames.
    pub fn next_flush_at(&self) -> Option<u64> {
        self.order.next_flush_at()
    }

    pub fn last_delivered_seq(&self) -> Option<i64> {
        self.order.last_delivered()
    }
}

#[cfg(test)]
mod tests;
