//! Calls: `POST /api/v1/conversations/{id}/calls`, `GET …/calls` (history),
//! `GET /api/v1/calls/{id}`, `POST /api/v1/calls/{id}/{accept|reject|leave|end}`,
//! and the `/calls` Socket.IO events (client → server `call_invite`,
//! `call_accept`, `call_reject`, `call_leave`, `call_end`, `call_signal`;
//! server → client `call_invite`, `call_accept`, `call_reject`,
//! `call_updated`, `call_end` with a [`CallEvent`], and `call_signal` with a
//! [`RelayedSignal`]). Core records every state change; signals are relayed
//! through core, which checks that both ends are in the call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::TmsUserId;

/// Largest `call_signal` payload (an SDP offer/answer or ICE candidates), in
/// bytes of its JSON text. SDP offers are a few KiB; a client may bundle
/// several ICE candidates into one payload (an array) to stay under the
/// socket's message rate.
pub const MAX_SIGNAL_PAYLOAD_BYTES: usize = 16 * 1024;
/// Most participants a call rings (the caller included): a group larger
/// than this cannot be called as a whole (mesh WebRTC does not go further).
pub const MAX_CALL_PARTICIPANTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallMedia {
    Voice,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Nobody has answered yet; callees' devices ring until `ring_expires_at`.
    Ringing,
    /// Someone answered; participants are talking.
    Ongoing,
    /// It was answered and has ended.
    Completed,
    /// It ended unanswered (timed out, or the caller hung up first).
    Missed,
    /// Every callee rejected it (or was busy), none answered.
    Rejected,
}

impl CallStatus {
    /// Ringing or ongoing: it can still change.
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Ringing | Self::Ongoing)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
    /// Rung, not answered yet.
    Ringing,
    /// In the call (the caller from the start).
    Joined,
    /// Was in the call and left it (or the call ended around them).
    Left,
    Rejected,
    /// Was ringing when the ring timed out or the call ended.
    Missed,
    /// Was already in another ringing or ongoing call: not rung.
    Busy,
}

impl ParticipantStatus {
    /// Ringing or joined: receives the call's events and signals.
    pub const fn is_live(self) -> bool {
        matches!(self, Self::Ringing | Self::Joined)
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A participant ended it for everyone (`end`).
    Hangup,
    /// Participants left until nobody, or one with nobody ringing, remained.
    Left,
    /// Nobody answered within the ring timeout.
    Timeout,
    /// Every callee rejected (or was busy).
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Offer,
    Answer,
    Ice,
}

/// `POST /api/v1/conversations/{id}/calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartCall {
    #[serde(rename = "type")]
    pub media: CallMedia,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallParticipant {
    /// TMS id.
    pub user_id: String,
    pub status: ParticipantStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Call {
    pub id: Uuid,
    pub conversation_id: Uuid,
    #[serde(rename = "type")]
    pub media: CallMedia,
    pub status: CallStatus,
    /// The caller's TMS id.
    pub initiator_id: String,
    pub started_at: DateTime<Utc>,
    /// When the first callee accepted.
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    /// While someone is still ringing: when the ring times out (they miss it).
    pub ring_expires_at: Option<DateTime<Utc>>,
    /// Whole seconds from `answered_at` to `ended_at`; `null` until a
    /// answered call has ended, and for a call never answered.
    pub duration_secs: Option<i64>,
    /// The caller first, then the callees by TMS id.
    pub participants: Vec<CallParticipant>,
}

/// Data of the server → client `call_invite`, `call_accept`, `call_reject`,
/// `call_updated` and `call_end` events: the call after the change, and who
/// made it (`null` when the ring timed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallEvent {
    pub call: Call,
    pub user_id: Option<String>,
}

/// Client → server `call_invite` on `/calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteCall {
    pub conversation_id: Uuid,
    #[serde(rename = "type")]
    pub media: CallMedia,
}

/// Client → server `call_accept`, `call_reject`, `call_leave`, `call_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallRef {
    pub call_id: Uuid,
}

/// `POST /internal/v1/calls/{id}/signal` (the acting user sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signal {
    pub to_user_id: String,
    pub kind: SignalKind,
    pub payload: serde_json::Value,
}

/// Client → server `call_signal` on `/calls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendSignal {
    pub call_id: Uuid,
    #[serde(flatten)]
    pub signal: Signal,
}

/// Server → client `call_signal`: to every `/calls` socket of the addressed user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayedSignal {
    pub call_id: Uuid,
    pub from_user_id: String,
    pub kind: SignalKind,
    pub payload: serde_json::Value,
}

/// The ack of a relayed `call_signal` (handed to the push lanes, not yet delivered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalSent {
    pub call_id: Uuid,
    pub to_user_id: String,
    pub kind: SignalKind,
}

/// Why a signal is refused before anyone looks at the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadSignal {
    /// The message for a `VALIDATION_ERROR`.
    Invalid(String),
    /// The message for a `PAYLOAD_TOO_LARGE`.
    TooLarge(String),
}

impl Signal {
    /// The rules edge and core both apply: a valid target that is not the
    /// sender, a payload that is present and at most 16 KiB of JSON.
    pub fn check(&self, from_user_id: &str) -> Result<(), BadSignal> {
        TmsUserId::check(&self.to_user_id)
            .map_err(|e| BadSignal::Invalid(format!("to_user_id: {e}")))?;
        if self.to_user_id == from_user_id {
            return Err(BadSignal::Invalid("a signal cannot go to yourself".into()));
        }
        if self.payload.is_null() {
            return Err(BadSignal::Invalid("payload is required".into()));
        }
        let size = serde_json::to_vec(&self.payload).map_or(usize::MAX, |b| b.len());
        if size > MAX_SIGNAL_PAYLOAD_BYTES {
            return Err(BadSignal::TooLarge(format!(
                "payload must be at most {MAX_SIGNAL_PAYLOAD_BYTES} bytes of JSON"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn signal(to: &str, payload: serde_json::Value) -> Signal {
        Signal {
            to_user_id: to.into(),
            kind: SignalKind::Offer,
            payload,
        }
    }

    #[test]
    fn signals_are_checked_once_for_edge_and_core() {
        assert_eq!(signal("bob", json!({"sdp": "v=0"})).check("alice"), Ok(()));
        assert!(matches!(
            signal("alice", json!({})).check("alice"),
            Err(BadSignal::Invalid(m)) if m.contains("yourself")
        ));
        assert!(matches!(
            signal(" bob", json!({})).check("alice"),
            Err(BadSignal::Invalid(m)) if m.starts_with("to_user_id")
        ));
        assert!(matches!(
            signal("bob", serde_json::Value::Null).check("alice"),
            Err(BadSignal::Invalid(_))
        ));
        // exactly at the bound passes, one byte more does not
        let fill = MAX_SIGNAL_PAYLOAD_BYTES - 2; // the quotes of a JSON string
        let at = signal("bob", json!("x".repeat(fill)));
        assert_eq!(at.check("alice"), Ok(()));
        let over = signal("bob", json!("x".repeat(fill + 1)));
        assert!(matches!(over.check("alice"), Err(BadSignal::TooLarge(_))));
    }

    #[test]
    fn wire_words_are_the_issue_words() {
        let words: Vec<String> = [
            CallStatus::Ringing,
            CallStatus::Ongoing,
            CallStatus::Completed,
            CallStatus::Missed,
            CallStatus::Rejected,
        ]
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        assert_eq!(
            words,
            ["ringing", "ongoing", "completed", "missed", "rejected"]
        );
        let invite: InviteCall =
            serde_json::from_value(json!({"conversation_id": Uuid::nil(), "type": "video"}))
                .unwrap();
        assert_eq!(invite.media, CallMedia::Video);
        assert!(serde_json::from_value::<StartCall>(json!({"type": "fax"})).is_err());
        let send: SendSignal = serde_json::from_value(json!({
            "call_id": Uuid::nil(), "to_user_id": "bob", "kind": "ice", "payload": [{"candidate": "c"}]
        }))
        .unwrap();
        assert_eq!(send.signal.kind, SignalKind::Ice);
    }
}
