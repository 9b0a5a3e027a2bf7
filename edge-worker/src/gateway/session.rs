//! The per-socket state inside a Gateway Durable Object. It lives in the
//! socket's attachment (`serialize_attachment`) so it survives hibernation;
//! attachments are small (budget: `ATTACHMENT_BUDGET_BYTES`), hence one-letter
//! field names, a bitmask for namespaces and hard caps on every collection.
//! Behaviour (frames in, actions out) is in `dispatch`.

use serde::{Deserialize, Serialize};
use shared_types::socket::NAMESPACES;
use uuid::Uuid;

use crate::gateway::joined::JoinedRooms;
use crate::gateway::rate_guard::RateGuard;

/// Conservative size budget for the serialized attachment (Cloudflare's
/// documented attachment limit has been 2 KiB).
pub const ATTACHMENT_BUDGET_BYTES: usize = 2_048;
/// Most conversations one socket may have joined as rooms at once. Members
/// still get events of other conversations on `/notifications`.
pub const MAX_JOINED_CONVERSATIONS: usize = 24;
/// A `?token=` longer than this is not kept (it would not fit the attachment);
/// the client must then send its token in the CONNECT auth, as it should anyway.
pub const MAX_QUERY_TOKEN_BYTES: usize = 1_536;
/// Like the reference server's `connectTimeout` (45 s there): a socket that
/// never connects a namespace is closed; the gateway's alarm is set for it
/// (`CONNECT_TIMEOUT_MS`).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// A socket relays the same typing state for one conversation at most this
/// often; a change of state (start → stop) always goes through.
pub const TYPING_RELAY_INTERVAL_MS: u64 = 2_000;

/// The last typing state this socket relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingMark {
    #[serde(rename = "c")]
    pub conversation_id: Uuid,
    #[serde(rename = "t")]
    pub typing: bool,
    #[serde(rename = "a")]
    pub at_ms: u64,
}

/// The namespaces a socket has connected, as a bitmask over `NAMESPACES`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NamespaceSet(u8);

impl NamespaceSet {
    fn bit(nsp: &str) -> Option<u8> {
        NAMESPACES.iter().position(|n| *n == nsp).map(|i| 1u8 << i)
    }

    /// Only the served namespaces can be members; returns false for others.
    pub fn insert(&mut self, nsp: &str) -> bool {
        match Self::bit(nsp) {
            Some(bit) => {
                self.0 |= bit;
                true
            }
            None => false,
        }
    }

    /// Returns whether it was present.
    pub fn remove(&mut self, nsp: &str) -> bool {
        let present = self.contains(nsp);
        if let Some(bit) = Self::bit(nsp) {
            self.0 &= !bit;
        }
        present
    }

    pub fn contains(&self, nsp: &str) -> bool {
        Self::bit(nsp).is_some_and(|bit| self.0 & bit != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        NAMESPACES.iter().copied().filter(|n| self.contains(n))
    }
}

/// Everything one socket needs to remember between events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// Chosen by the gateway at upgrade (`{gateway}.{32 hex}`); also the Engine.IO `sid`.
    #[serde(rename = "s")]
    pub session_id: String,
    /// Set by the first successful CONNECT; fixed for the socket's life.
    #[serde(rename = "u", default)]
    pub tms_user_id: Option<String>,
    #[serde(rename = "n", default)]
    pub namespaces: NamespaceSet,
    /// Rooms (`conversation:{id}`) this socket has joined, after core
    /// confirmed membership, with the removal epoch it was verified at.
    #[serde(rename = "j", default)]
    pub joined: JoinedRooms,
    /// When the socket opened; pings sent before it do not judge it.
    #[serde(rename = "o")]
    pub opened_at_ms: u64,
    #[serde(rename = "r", default)]
    pub rate: RateGuard,
    /// `?token=` from the upgrade URL, kept only until the first authentication.
    #[serde(rename = "q", default, skip_serializing_if = "Option::is_none")]
    pub query_token: Option<String>,
    /// Close the socket if no namespace is connected by then; cleared on the first CONNECT.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub connect_deadline_ms: Option<u64>,
    /// Set by `on_close`. Work that was awaiting I/O when the socket closed
    /// finds it here and must not register the socket anywhere.
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub last_typing: Option<TypingMark>,
    /// The token's `exp` plus the leeway, in unix ms: past it the socket can
    /// neither send nor join until it sends a fresh token (`gateway::token_life`).
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub token_valid_until_ms: Option<u64>,
    /// Whether the client was told (`token_expired`) that its token ran out.
    #[serde(rename = "w", default, skip_serializing_if = "std::ops::Not::not")]
    pub told_token_expired: bool,
    /// A WebSocket that came to upgrade the polling session of this id and
    /// has not sent `5` yet: its frames go to `gateway::polling`, and it is
    /// in no index (the polling session is).
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    pub probing: bool,
}

impl SessionState {
    pub fn new(session_id: impl Into<String>, query_token: Option<String>, now_ms: u64) -> Self {
        let query_token = query_token.filter(|t| !t.is_empty() && t.len() <= MAX_QUERY_TOKEN_BYTES);
        Self {
            session_id: session_id.into(),
            tms_user_id: None,
            namespaces: NamespaceSet::default(),
            joined: JoinedRooms::default(),
            opened_at_ms: now_ms,
            rate: RateGuard::default(),
            query_token,
            connect_deadline_ms: Some(now_ms.saturating_add(DEFAULT_CONNECT_TIMEOUT_MS)),
            closed: false,
            last_typing: None,
            token_valid_until_ms: None,
            told_token_expired: false,
            probing: false,
        }
    }

    /// The removal epoch the socket's membership of a joined conversation was verified at.
    pub fn verified_epoch(&self, conversation_id: &Uuid) -> i64 {
        self.joined.epoch(conversation_id)
    }

    /// Core confirmed membership at `epoch`; kept only while joined.
    pub fn on_verified(&mut self, conversation_id: Uuid, epoch: i64) {
        self.joined.verify(&conversation_id, epoch);
    }

    pub fn is_authenticated(&self) -> bool {
        self.tms_user_id.is_some()
    }

    /// The Socket.IO socket id for one namespace of this connection.
    pub fn socket_id(&self, nsp: &str) -> String {
        format!("{}#{}", self.session_id, nsp.trim_start_matches('/'))
    }

    /// Whether a typing state should be relayed now (see `TYPING_RELAY_INTERVAL_MS`);
    /// records it when so.
    pub fn relay_typing(&mut self, conversation_id: Uuid, typing: bool, now_ms: u64) -> bool {
        let repeat = self.last_typing.is_some_and(|last| {
            last.conversation_id == conversation_id
                && last.typing == typing
                && now_ms.saturating_sub(last.at_ms) < TYPING_RELAY_INTERVAL_MS
        });
        if !repeat {
            self.last_typing = Some(TypingMark {
                conversation_id,
                typing,
                at_ms: now_ms,
            });
        }
        !repeat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_set_only_holds_served_namespaces() {
        let mut set = NamespaceSet::default();
        assert!(set.is_empty());
        assert!(set.insert("/messaging"));
        assert!(set.insert("/notifications"));
        assert!(!set.insert("/"));
        assert!(!set.insert("/admin"));
        assert!(set.contains("/messaging") && !set.contains("/calls"));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            ["/messaging", "/notifications"]
        );
        assert!(set.remove("/messaging"));
        assert!(!set.remove("/messaging"));
        assert!(!set.remove("/nope"));
        assert_eq!(serde_json::to_string(&set).unwrap(), "4");
    }

    #[test]
    fn long_query_tokens_are_not_kept() {
        let s = SessionState::new("s", Some("x".repeat(MAX_QUERY_TOKEN_BYTES + 1)), 0);
        assert_eq!(s.query_token, None);
        let s = SessionState::new("s", Some(String::new()), 0);
        assert_eq!(s.query_token, None);
        let s = SessionState::new("s", Some("jwt".into()), 0);
        assert_eq!(s.query_token.as_deref(), Some("jwt"));
    }

    #[test]
    fn typing_is_relayed_once_per_interval_and_on_every_change() {
        let mut s = SessionState::new("s", None, 0);
        let c = Uuid::from_u128(7);
        assert!(s.relay_typing(c, true, 1_000));
        assert!(!s.relay_typing(c, true, 2_999));
        assert!(
            s.relay_typing(c, false, 3_000),
            "a change always goes through"
        );
        assert!(s.relay_typing(c, true, 3_001));
        assert!(s.relay_typing(c, true, 5_001), "again after the interval");
        assert!(s.relay_typing(Uuid::from_u128(8), true, 5_002));
    }

    #[test]
    fn worst_case_state_fits_the_attachment_budget() {
        let mut s = SessionState::new("0".repeat(60), None, u64::from(u32::MAX) * 1_000);
        s.tms_user_id = Some("u".repeat(shared_types::ids::MAX_TMS_USER_ID_BYTES));
        for ns in NAMESPACES {
            s.namespaces.insert(ns);
        }
        // a few over the cap: concurrent joins can overshoot by the number in flight
        for n in 0..(MAX_JOINED_CONVERSATIONS as u128 + 4) {
            let id = Uuid::from_u128(u128::MAX - n);
            s.joined.insert(id);
            // a billion removals in one conversation is far beyond any real one
            s.on_verified(id, 999_999_999);
        }
        s.opened_at_ms = u64::MAX;
        s.last_typing = Some(TypingMark {
            conversation_id: Uuid::max(),
            typing: true,
            at_ms: u64::MAX,
        });
        s.rate.check(
            crate::gateway::rate_guard::WS_SOCKET_LIMIT,
            u64::MAX / 1_000,
        );
        s.connect_deadline_ms = Some(u64::MAX);
        s.token_valid_until_ms = Some(u64::MAX);
        s.told_token_expired = true;
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.len() <= ATTACHMENT_BUDGET_BYTES,
            "{} bytes: {json}",
            json.len()
        );
        assert_eq!(serde_json::from_str::<SessionState>(&json).unwrap(), s);
    }

    #[test]
    fn a_fresh_unauthenticated_state_with_a_query_token_fits() {
        let s = SessionState::new("0".repeat(60), Some("t".repeat(MAX_QUERY_TOKEN_BYTES)), 0);
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.len() <= ATTACHMENT_BUDGET_BYTES,
            "{} bytes",
            json.len()
        );
    }

    #[test]
    fn socket_ids_are_distinct_per_namespace() {
        let s = SessionState::new("abc", None, 0);
        assert_eq!(s.socket_id("/messaging"), "abc#messaging");
        assert_ne!(s.socket_id("/calls"), s.socket_id("/messaging"));
    }
}
