//! Socket.IO connection-state recovery (`maxDisconnectionDuration`), in a
//! Gateway's memory.
//!
//! - Every EVENT frame the gateway writes to a socket that has a `pid` is
//!   stamped with an offset from one gateway-wide counter, appended as the
//!   frame's last argument (a string, `{instance}-{n}`): one stamped frame per
//!   delivery item, shared by all the sockets it goes to. The stamped frames
//!   stay in a bounded buffer (`Buffer`: frames and bytes).
//! - Each such socket keeps the offsets of the frames written to it (`Log`:
//!   numbers only, the frames are the buffer's), so what it missed is known
//!   exactly, whichever plan (rooms, notifications, users, removal epochs)
//!   addressed it.
//! - A socket that goes without a Socket.IO DISCONNECT is parked under its
//!   `pid` for the window: it stays in the gateway's index (its rooms stay
//!   subscribed, core keeps routing its user here) and its log keeps
//!   growing. A CONNECT with `{pid, offset}` from the same user gets the
//!   frames of its namespace after `offset`, in order, and the same `pid`
//!   back (`socket.recovered`). On another gateway, that gateway asks this
//!   one (`Resume::Moved` forwards after a first recovery).
//! - Anything that lost frames (buffer eviction, a restart, a log pruned past
//!   the client's offset) answers `Lost`: the client gets a new `pid`.

use std::collections::VecDeque;
use std::rc::Rc;

use rustc_hash::FxHashMap;
use shared_types::socket::NS_MESSAGING;

use crate::gateway::joined::JoinedRooms;
use crate::gateway::session::{NamespaceSet, SessionState, MAX_JOINED_CONVERSATIONS};

/// `maxDisconnectionDuration` of the reference server (2 minutes).
pub const DEFAULT_WINDOW_MS: u64 = 120_000;
pub const DEFAULT_BUFFER_FRAMES: usize = 10_000;
pub const DEFAULT_BUFFER_BYTES: usize = 8 * 1024 * 1024;
pub const DEFAULT_MAX_PARKED: usize = 2_000;
/// Gateways a recovery request may be forwarded through (a session that
/// recovered on another gateway is found through the one that named its pid).
pub const MAX_HOPS: u8 = 4;
/// While sessions are parked the gateway's alarm comes at least this often,
/// so the runtime does not evict it (workerd evicts an object 10 s after its
/// last request; hibernatable WebSockets do not hold it) and its buffer lives
/// through the window.
pub const KEEP_AWAKE_MS: u64 = 8_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// 0 disables recovery: no `pid`, no offsets.
    pub window_ms: u64,
    pub buffer_frames: usize,
    pub buffer_bytes: usize,
    pub max_parked: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            window_ms: DEFAULT_WINDOW_MS,
            buffer_frames: DEFAULT_BUFFER_FRAMES,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            max_parked: DEFAULT_MAX_PARKED,
        }
    }
}

impl RecoveryConfig {
    pub fn enabled(&self) -> bool {
        self.window_ms > 0
    }
}

/// Recent stamped frames, offsets dense from `first`.
#[derive(Debug, Default)]
struct Buffer {
    frames: VecDeque<Rc<str>>,
    /// The offset of `frames[0]`; all below it are gone.
    first: u64,
    bytes: usize,
}

impl Buffer {
    fn next(&self) -> u64 {
        self.first + self.frames.len() as u64
    }

    fn push(&mut self, frame: Rc<str>, config: &RecoveryConfig) -> u64 {
        let offset = self.next();
        self.bytes += frame.len();
        self.frames.push_back(frame);
        while self.frames.len() > config.buffer_frames.max(1)
            || (self.bytes > config.buffer_bytes && self.frames.len() > 1)
        {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.len();
                self.first += 1;
            }
        }
        offset
    }

    fn get(&self, offset: u64) -> Option<&Rc<str>> {
        let at = offset.checked_sub(self.first)?;
        self.frames.get(usize::try_from(at).ok()?)
    }
}

/// The offsets written to one socket that has a pid.
#[derive(Debug, Clone, Default)]
struct Log {
    pid: String,
    offsets: VecDeque<u64>,
    /// The highest offset taken out of `offsets` (it left the buffer); 0 if none.
    pruned_through: u64,
}

/// A socket that went without a DISCONNECT, kept for the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Parked {
    pub session_id: String,
    pub user: String,
    /// Namespaces not recovered yet.
    pub namespaces: NamespaceSet,
    pub joined: JoinedRooms,
    pub expires_at_ms: u64,
}

/// What a recovering CONNECT gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    Frames(Resumed),
    /// The session recovered on this gateway before; ask that one.
    Moved(String),
    Lost(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    /// The namespace's frames after the client's offset, in order (stamped
    /// with this gateway's offsets).
    pub frames: Vec<Rc<str>>,
    /// For `/messaging`: the rooms the parked socket had joined.
    pub joined: Option<JoinedRooms>,
    pub parked_session: String,
    /// The parked socket has nothing left to recover: take it out of the index.
    pub done: bool,
    /// The offset of the last frame logged for the parked socket (any
    /// namespace): where a second look from another gateway starts.
    pub through: Option<String>,
}

#[derive(Debug, Default)]
pub struct Recovery {
    pub config: RecoveryConfig,
    /// Names this object's life: offsets of another life are foreign.
    instance: String,
    buffer: Buffer,
    logs: FxHashMap<String, Log>,
    parked: FxHashMap<String, Parked>,
    /// pid → the gateway it recovered on, until the window ends.
    moved: FxHashMap<String, (String, u64)>,
    /// Recovering sessions' frames, held until the other gateway's last ones are in.
    holds: FxHashMap<(String, String), Vec<String>>,
}

impl Recovery {
    pub fn new(instance: impl Into<String>, config: RecoveryConfig) -> Self {
        Self {
            config,
            instance: instance.into(),
            buffer: Buffer {
                first: 1,
                ..Buffer::default()
            },
            ..Self::default()
        }
    }

    /// A socket with `pid` from now on: frames to it are stamped and logged.
    pub fn track(&mut self, session_id: &str, pid: &str) {
        if self.config.enabled() {
            // it lives here (again): no forwarding for it
            self.moved.remove(pid);
            let log = Log {
                pid: pid.to_owned(),
                ..Log::default()
            };
            self.logs.insert(session_id.to_owned(), log);
        }
    }

    pub fn is_tracked(&self, session_id: &str) -> bool {
        self.logs.contains_key(session_id)
    }

    pub fn pid_of(&self, session_id: &str) -> Option<&str> {
        self.logs.get(session_id).map(|l| l.pid.as_str())
    }

    /// Forgets a socket (closed for good, or its parked time is over).
    pub fn forget(&mut self, session_id: &str) {
        self.holds.retain(|(sid, _), _| sid != session_id);
        if let Some(log) = self.logs.remove(session_id) {
            if self
                .parked
                .get(&log.pid)
                .is_some_and(|p| p.session_id == session_id)
            {
                self.parked.remove(&log.pid);
            }
        }
    }

    /// Stamps a frame for tracked sockets: its offset and the stamped frame,
    /// kept in the buffer. `None` when the frame is not a plain event.
    pub fn stamp(&mut self, frame: &str) -> Option<(u64, Rc<str>)> {
        let offset = self.buffer.next();
        let stamped: Rc<str> = stamp(frame, &format!("{}-{offset}", self.instance))?.into();
        let at = self.buffer.push(stamped.clone(), &self.config);
        Some((at, stamped))
    }

    /// The stamped frame `offset` was written to a tracked socket (or would
    /// have been, to a parked one).
    pub fn record(&mut self, session_id: &str, offset: u64) {
        let first = self.buffer.first;
        if let Some(log) = self.logs.get_mut(session_id) {
            while log.offsets.front().is_some_and(|o| *o < first) {
                log.pruned_through = log.offsets.pop_front().unwrap_or_default();
            }
            // replayed frames may be older than live ones logged meanwhile
            match log.offsets.back() {
                Some(last) if *last > offset => {
                    let at = log.offsets.partition_point(|o| *o < offset);
                    if log.offsets.get(at) != Some(&offset) {
                        log.offsets.insert(at, offset);
                    }
                }
                Some(last) if *last == offset => {}
                _ => log.offsets.push_back(offset),
            }
        }
    }

    /// A socket went without a DISCONNECT: parked under its pid when it has
    /// one and namespaces left. Returns the sessions dropped to stay within
    /// `max_parked` (the oldest first), which the glue takes out of the index.
    pub fn park(&mut self, state: &SessionState, now_ms: u64) -> Option<Vec<String>> {
        let log = self.logs.get(&state.session_id)?;
        let user = state.tms_user_id.clone()?;
        if state.namespaces.is_empty() || !self.config.enabled() {
            return None;
        }
        let parked = Parked {
            session_id: state.session_id.clone(),
            user,
            namespaces: state.namespaces,
            joined: state.joined.clone(),
            expires_at_ms: now_ms.saturating_add(self.config.window_ms),
        };
        let mut dropped = Vec::new();
        if let Some(before) = self.parked.insert(log.pid.clone(), parked) {
            // parked again before its other namespaces came back
            if before.session_id != state.session_id {
                self.logs.remove(&before.session_id);
                dropped.push(before.session_id);
            }
        }
        while self.parked.len() > self.config.max_parked {
            let oldest = self.parked.iter().min_by_key(|(_, p)| p.expires_at_ms);
            let Some(pid) = oldest.map(|(pid, _)| pid.clone()) else {
                break;
            };
            if let Some(p) = self.parked.remove(&pid) {
                self.logs.remove(&p.session_id);
                dropped.push(p.session_id);
            }
        }
        Some(dropped)
    }

    pub fn parked_count(&self) -> usize {
        self.parked.len()
    }

    pub fn is_parked(&self, session_id: &str) -> bool {
        self.pid_of(session_id).is_some_and(|pid| {
            self.parked
                .get(pid)
                .is_some_and(|p| p.session_id == session_id)
        })
    }

    /// Parked sessions whose window is over, forgotten; the glue takes them
    /// out of the index.
    pub fn expire(&mut self, now_ms: u64) -> Vec<String> {
        self.moved.retain(|_, (_, until)| *until > now_ms);
        let over: Vec<String> = (self.parked.iter())
            .filter(|(_, p)| p.expires_at_ms <= now_ms)
            .map(|(pid, _)| pid.clone())
            .collect();
        let mut sessions = Vec::new();
        for pid in over {
            if let Some(p) = self.parked.remove(&pid) {
                self.logs.remove(&p.session_id);
                sessions.push(p.session_id);
            }
        }
        sessions
    }

    /// When the alarm must come next, while sessions are parked.
    pub fn next_alarm(&self, now_ms: u64) -> Option<u64> {
        let expiry = self.parked.values().map(|p| p.expires_at_ms).min()?;
        Some(expiry.min(now_ms.saturating_add(KEEP_AWAKE_MS)))
    }

    /// A CONNECT to `ask.namespace` with `{pid, offset}` by `ask.user`, here
    /// or (`remote`) on the gateway `ask.to`. On success the namespace leaves
    /// the parked session (not on a first look, `ask.keep`); a session taken
    /// to another gateway is forwarded there for the rest of its window.
    pub fn resume(&mut self, ask: &RecoverAsk, now_ms: u64, remote: bool) -> Resume {
        let (pid, user, namespace) = (ask.pid.as_str(), ask.user.as_str(), ask.namespace.as_str());
        let (offset, keep) = (ask.offset.as_deref(), ask.keep);
        let moved_to = remote.then_some(ask.to.as_str());
        let Some(parked) = self.parked.get(pid) else {
            return match self.moved.get(pid) {
                Some((to, _)) => Resume::Moved(to.clone()),
                None => Resume::Lost("unknown session"),
            };
        };
        if parked.expires_at_ms <= now_ms {
            return Resume::Lost("window passed");
        }
        if parked.user != user {
            return Resume::Lost("another user");
        }
        if !parked.namespaces.contains(namespace) {
            return Resume::Lost("namespace not parked");
        }
        let Some(log) = self.logs.get(&parked.session_id) else {
            return Resume::Lost("log lost");
        };
        let own = format!("{}-", self.instance);
        let after = match offset.map(|o| o.strip_prefix(&own).map(str::parse::<u64>)) {
            Some(Some(Ok(n))) => n,
            Some(Some(Err(_))) => return Resume::Lost("bad offset"),
            // no event received yet, or only another gateway's: all of the log
            None | Some(None) => 0,
        };
        if log.pruned_through > after {
            return Resume::Lost("frames evicted from the buffer");
        }
        let mut frames = Vec::new();
        for offset in log.offsets.iter().filter(|o| **o > after) {
            let Some(frame) = self.buffer.get(*offset) else {
                return Resume::Lost("frames evicted from the buffer");
            };
            if namespace_of(frame) == namespace {
                frames.push(frame.clone());
            }
        }
        let through = log.offsets.back().map(|o| format!("{own}{o}"));
        let Some(parked) = self.parked.get_mut(pid) else {
            return Resume::Lost("unknown session");
        };
        if keep {
            // a first look from another gateway: nothing is taken yet
            return Resume::Frames(Resumed {
                frames,
                joined: (namespace == NS_MESSAGING).then(|| parked.joined.clone()),
                parked_session: parked.session_id.clone(),
                done: false,
                through,
            });
        }
        parked.namespaces.remove(namespace);
        let joined = (namespace == NS_MESSAGING).then(|| parked.joined.clone());
        let done = parked.namespaces.is_empty();
        let parked_session = parked.session_id.clone();
        let expires = parked.expires_at_ms;
        if done {
            self.parked.remove(pid);
            self.logs.remove(&parked_session);
        }
        if let Some(to) = moved_to {
            if done {
                self.moved.insert(pid.to_owned(), (to.to_owned(), expires));
            }
        }
        Resume::Frames(Resumed {
            frames,
            joined,
            parked_session,
            done,
            through,
        })
    }

    /// A namespace of a recovering session whose frames wait (`hold_push`)
    /// until the gateway that held it has given the last of its own (`release`).
    pub fn hold(&mut self, session_id: &str, namespace: &str) {
        let key = (session_id.to_owned(), namespace.to_owned());
        self.holds.insert(key, Vec::new());
    }

    /// Keeps a frame for a holding session; false if it is not holding.
    pub fn hold_push(&mut self, session_id: &str, frame: &str) -> bool {
        if self.holds.is_empty() {
            return false;
        }
        let cap = self.config.buffer_frames;
        let key = (session_id.to_owned(), namespace_of(frame).to_owned());
        match self.holds.get_mut(&key) {
            Some(held) if held.len() < cap => {
                held.push(frame.to_owned());
                true
            }
            Some(_) => true, // over the cap: dropped (the feed covers it)
            None => false,
        }
    }

    /// The frames held, in order, without those the other gateway gave
    /// (`replayed`): an event that reached both is written once.
    pub fn release(
        &mut self,
        session_id: &str,
        namespace: &str,
        replayed: &[String],
    ) -> Vec<String> {
        let key = (session_id.to_owned(), namespace.to_owned());
        let held = self.holds.remove(&key).unwrap_or_default();
        held.into_iter().filter(|f| !replayed.contains(f)).collect()
    }
}

/// The rooms a parked socket had joined, with their verified removal
/// epochs, added to the recovering session's (within its cap).
pub fn adopt_rooms(joined: &JoinedRooms, into: &mut JoinedRooms) {
    for id in joined.iter() {
        if into.len() >= MAX_JOINED_CONVERSATIONS {
            break;
        }
        if into.insert(*id) {
            into.verify(id, joined.epoch(id));
        }
    }
}

mod wire;
pub use wire::{namespace_of, offset_in, stamp, unstamp, RecoverAnswer, RecoverAsk};

#[cfg(test)]
mod tests;
