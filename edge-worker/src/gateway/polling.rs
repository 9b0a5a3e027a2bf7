//! One Engine.IO HTTP long-polling session inside a gateway, until it
//! upgrades to a WebSocket or closes: its Socket.IO state (the same
//! `SessionState` a WebSocket keeps in its attachment, run by the same
//! `dispatch`), the packets waiting for the next GET, and the decisions of
//! the reference server (`engine.io` `transports/polling.ts`, `socket.ts`):
//! one GET and one POST at a time (an overlap closes the session), the held
//! GET answered by the first packet, a noop when the hold ends, the probe
//! `2probe` → `3probe` on the new WebSocket (from then GETs are answered at
//! once, a noop when nothing waits), then `5` moves the session there.
//! It lives in the object's memory only: a polling session does not survive
//! an object restart, and its client reconnects as after any lost session.

use std::collections::VecDeque;

use crate::gateway::dispatch::Action;
use crate::gateway::session::SessionState;
use crate::protocol::engineio::{self, EioPacket, OpenHandshake};
use crate::protocol::error::ProtocolError;
use crate::protocol::heartbeat::HeartbeatConfig;
use crate::protocol::polling::{self, PayloadPacket};

/// How long a GET is held when there is nothing to send (`POLLING_HOLD_MS`):
/// well under the 100 s after which Cloudflare's proxy gives up on a response.
pub const DEFAULT_HOLD_MS: u64 = 20_000;
/// The longest hold `POLLING_HOLD_MS` may set.
pub const MAX_HOLD_MS: u64 = 60_000;
/// Packets waiting for a GET, at most; over it the session is closed (a
/// client that stopped polling would otherwise grow the object's memory).
pub const MAX_BUFFERED_PACKETS: usize = 256;
/// Bytes waiting for a GET, at most (the same rule).
pub const MAX_BUFFERED_BYTES: usize = 512 * 1024;
/// A WebSocket that was probed must send `5` within this, as the reference
/// server's `upgradeTimeout` (10 s); otherwise it is closed and polling goes on.
pub const UPGRADE_TIMEOUT_MS: u64 = 10_000;

const NOOP: &str = "6";
const CLOSE: &str = "1";

/// The open packet of a polling handshake: it offers the WebSocket upgrade.
pub fn open_frame(sid: &str, heartbeat: HeartbeatConfig) -> String {
    let mut handshake = OpenHandshake::new(sid, heartbeat);
    handshake.upgrades = vec!["websocket".to_owned()];
    engineio::open_frame(&handshake)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A WebSocket answered `3probe`; the client pauses polling and then
    /// sends `5` there. Meanwhile every GET is answered at once (a noop when
    /// nothing waits), as the reference server's upgrade check does, so the
    /// client's pause never waits for a hold.
    Probing {
        since_ms: u64,
    },
    /// `5` came: the session is the WebSocket's.
    Done,
}

/// What to do with a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetVerdict {
    /// Answer now with this body.
    Answer(String),
    /// Hold it: `on_wake` says when it can be answered.
    Hold,
    /// A GET is already held: the reference server closes the session and
    /// answers this one 400.
    Overlap,
}

/// What a frame on the probing WebSocket asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStep {
    /// Answer `3probe` on the WebSocket; the held GET gets a noop so the
    /// client can pause polling.
    Probed(String),
    /// `5`: the session moves to the WebSocket, with these packets to write
    /// there first (those that were waiting for a GET).
    Upgraded(Vec<String>),
    /// Anything else: close the WebSocket, polling goes on.
    Refuse,
}

#[derive(Debug, Clone)]
pub struct PollSession {
    pub state: SessionState,
    outbox: VecDeque<String>,
    outbox_bytes: usize,
    get_held: bool,
    post_running: bool,
    /// When the client's last pong (`3` in a POST) arrived.
    pub last_pong_at_ms: Option<u64>,
    upgrade: Upgrade,
    /// Closed: the held GET gets the close packet, later requests 400.
    closed: bool,
}

impl PollSession {
    pub fn new(state: SessionState) -> Self {
        Self {
            state,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            get_held: false,
            post_running: false,
            last_pong_at_ms: None,
            upgrade: Upgrade::None,
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn buffered(&self) -> usize {
        self.outbox.len()
    }

    /// Queues a packet for the next GET. False when the buffer is over its
    /// cap: the caller closes the session.
    #[must_use]
    pub fn push(&mut self, frame: &str) -> bool {
        if self.closed {
            return true;
        }
        if self.outbox.len() >= MAX_BUFFERED_PACKETS
            || self.outbox_bytes + frame.len() > MAX_BUFFERED_BYTES
        {
            return false;
        }
        self.outbox_bytes += frame.len();
        self.outbox.push_back(frame.to_owned());
        true
    }

    /// Whether a held GET should wake up now.
    pub fn ready(&self) -> bool {
        !self.outbox.is_empty() || self.closed || self.upgrade != Upgrade::None
    }

    pub fn on_get(&mut self) -> GetVerdict {
        if self.get_held {
            return GetVerdict::Overlap;
        }
        if self.ready() {
            return GetVerdict::Answer(self.take_answer());
        }
        self.get_held = true;
        GetVerdict::Hold
    }

    /// The held GET woke (`ready()`) or its hold ended: its body, or `None`
    /// to keep holding (a wake with nothing to say).
    pub fn on_wake(&mut self, hold_ended: bool) -> Option<String> {
        if !(self.ready() || hold_ended) {
            return None;
        }
        self.get_held = false;
        Some(self.take_answer())
    }

    /// The client went away while its GET was held.
    pub fn on_get_dropped(&mut self) {
        self.get_held = false;
    }

    fn take_answer(&mut self) -> String {
        let mut packets: Vec<String> = self.outbox.drain(..).collect();
        self.outbox_bytes = 0;
        if self.closed {
            packets.push(CLOSE.to_owned());
        }
        if packets.is_empty() {
            packets.push(NOOP.to_owned());
        }
        polling::encode_payload(&packets)
    }

    /// A POST begins. Err: another is running, which the reference server
    /// treats as an error of the session (closed; this one answered 400).
    pub fn on_post_start(&mut self) -> Result<(), ProtocolError> {
        if self.post_running {
            return Err(ProtocolError::InvalidPayload {
                packet: "polling",
                reason: "data request overlap from client",
            });
        }
        self.post_running = true;
        Ok(())
    }

    pub fn on_post_end(&mut self) {
        self.post_running = false;
    }

    /// One packet of a POST body, run as the same packet on a WebSocket.
    pub fn on_packet(&mut self, packet: &PayloadPacket<'_>, now_ms: u64) -> Action {
        match packet {
            PayloadPacket::Binary(bytes) => self.state.on_binary_frame(bytes.len()),
            // the client's pong: on a WebSocket the runtime answers it
            // without waking the object; here it is the liveness signal
            PayloadPacket::Text(text) if text.starts_with('3') => {
                self.last_pong_at_ms = Some(now_ms);
                Action::None
            }
            // an upgrade packet belongs on the new transport
            PayloadPacket::Text(text) if text.starts_with('5') => {
                close(ProtocolError::UpgradeNotSupported)
            }
            PayloadPacket::Text(text) => self.state.on_text_frame(text, now_ms),
        }
    }

    /// Whether a WebSocket may probe this session now (one at a time).
    pub fn may_probe(&self) -> bool {
        !self.closed && self.upgrade == Upgrade::None
    }

    /// A text frame on the WebSocket that came to upgrade this session.
    pub fn on_probe_frame(&mut self, frame: &str, now_ms: u64) -> ProbeStep {
        match (engineio::decode_text_frame(frame), self.upgrade) {
            (Ok(EioPacket::Ping("probe")), Upgrade::None) if !self.closed => {
                self.upgrade = Upgrade::Probing { since_ms: now_ms };
                ProbeStep::Probed(engineio::encode(&EioPacket::Pong("probe")))
            }
            (Err(ProtocolError::UpgradeNotSupported), Upgrade::Probing { .. }) if !self.closed => {
                self.upgrade = Upgrade::Done;
                self.outbox_bytes = 0;
                ProbeStep::Upgraded(self.outbox.drain(..).collect())
            }
            (_, Upgrade::Done) => ProbeStep::Refuse,
            _ => {
                self.upgrade = Upgrade::None;
                ProbeStep::Refuse
            }
        }
    }

    /// The probing WebSocket went away (closed, or timed out): polling goes on.
    pub fn on_probe_ended(&mut self) {
        if self.upgrade != Upgrade::Done {
            self.upgrade = Upgrade::None;
        }
    }

    /// Whether a probe started at least `UPGRADE_TIMEOUT_MS` ago is still waiting for `5`.
    pub fn probe_timed_out(&self, now_ms: u64) -> bool {
        matches!(self.upgrade, Upgrade::Probing { since_ms }
            if now_ms.saturating_sub(since_ms) >= UPGRADE_TIMEOUT_MS)
    }

    /// Closes the session: a held GET gets what waited and the close packet.
    pub fn close(&mut self) {
        self.closed = true;
    }
}

fn close(error: ProtocolError) -> Action {
    Action::Close {
        code: error.close_code(),
        reason: error.close_reason(),
        error: Some(error),
    }
}

#[cfg(test)]
mod tests;
