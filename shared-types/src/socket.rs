//! Socket.IO event payloads (namespaces `/messaging`, `/calls`, `/notifications`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ApiErrorBody, ErrorCode};

pub const NS_MESSAGING: &str = "/messaging";
pub const NS_CALLS: &str = "/calls";
pub const NS_NOTIFICATIONS: &str = "/notifications";
pub const NAMESPACES: &[&str] = &[NS_MESSAGING, NS_CALLS, NS_NOTIFICATIONS];

/// Client → server event names.
pub mod client_events {
    pub const JOIN_CONVERSATION: &str = "join_conversation";
    pub const LEAVE_CONVERSATION: &str = "leave_conversation";
    pub const SEND_MESSAGE: &str = "send_message";
    pub const TYPING_START: &str = "typing_start";
    pub const TYPING_STOP: &str = "typing_stop";
    pub const MESSAGE_READ: &str = "message_read";
    pub const MESSAGE_DELIVERED: &str = "message_delivered";
    /// `/calls`: data `calls::InviteCall`; the ack carries the `calls::Call`.
    pub const CALL_INVITE: &str = "call_invite";
    /// `/calls`: data `calls::CallRef`; the ack carries the `calls::Call`.
    pub const CALL_ACCEPT: &str = "call_accept";
    pub const CALL_REJECT: &str = "call_reject";
    pub const CALL_LEAVE: &str = "call_leave";
    pub const CALL_END: &str = "call_end";
    /// `/calls`: data `calls::SendSignal`; the ack carries `calls::SignalSent`.
    pub const CALL_SIGNAL: &str = "call_signal";
    /// Any namespace: data `RefreshToken`; a fresh token for this connection
    /// (same user), verified like a CONNECT's; the ack carries `TokenRefreshed`.
    pub const REFRESH_TOKEN: &str = "refresh_token";

    /// Every client → server event (the event docs are checked against it).
    pub const ALL: &[&str] = &[
        REFRESH_TOKEN,
        JOIN_CONVERSATION,
        LEAVE_CONVERSATION,
        SEND_MESSAGE,
        TYPING_START,
        TYPING_STOP,
        MESSAGE_READ,
        MESSAGE_DELIVERED,
        CALL_INVITE,
        CALL_ACCEPT,
        CALL_REJECT,
        CALL_LEAVE,
        CALL_END,
        CALL_SIGNAL,
    ];
}

/// Server → client event names.
pub mod server_events {
    pub const NEW_MESSAGE: &str = "new_message";
    pub const MESSAGE_UPDATED: &str = "message_updated";
    pub const MESSAGE_DELETED: &str = "message_deleted";
    pub const MESSAGE_STATUS: &str = "message_status";
    pub const USER_TYPING: &str = "user_typing";
    pub const USER_ONLINE: &str = "user_online";
    pub const USER_OFFLINE: &str = "user_offline";
    pub const CONVERSATION_UPDATED: &str = "conversation_updated";
    pub const MEMBER_ADDED: &str = "member_added";
    pub const MEMBER_REMOVED: &str = "member_removed";
    /// A poll's results or state changed; data: `polls::Poll` (to the room).
    pub const POLL_UPDATED: &str = "poll_updated";
    /// Data: `reactions::ReactionChanged` (to the room).
    pub const REACTION_ADDED: &str = "reaction_added";
    pub const REACTION_REMOVED: &str = "reaction_removed";
    /// A co-member's TMS profile changed (on `/notifications`); data: `{user_id}`.
    pub const USER_UPDATED: &str = "user_updated";
    /// `/notifications`, data `sync::ConversationRead`: to every socket of
    /// the reader when their read mark moved (read state across devices).
    pub const CONVERSATION_READ: &str = "conversation_read";
    /// The server is closing this session (on `/notifications`, then a
    /// DISCONNECT of every namespace); data: `{reason}`, e.g. `user_deleted`.
    pub const SESSION_CLOSED: &str = "session_closed";
    /// The user changed their settings of a conversation (on `/notifications`,
    /// to every socket of that user); data: `settings::ConversationSettings`.
    pub const CONVERSATION_SETTINGS_UPDATED: &str = "conversation_settings_updated";
    /// `/calls`, data `calls::CallEvent`: to the callees being rung.
    pub const CALL_INVITE: &str = "call_invite";
    /// `/calls`, data `calls::CallEvent`: to the call's live participants
    /// (ringing or joined, before or after the change).
    pub const CALL_ACCEPT: &str = "call_accept";
    pub const CALL_REJECT: &str = "call_reject";
    /// Someone left, or the ring timed out for those still ringing in an ongoing call.
    pub const CALL_UPDATED: &str = "call_updated";
    /// The call is over (completed, missed or rejected; `end_reason` says why).
    pub const CALL_END: &str = "call_end";
    /// `/calls`, data `calls::RelayedSignal`: to every device of the addressed participant.
    pub const CALL_SIGNAL: &str = "call_signal";
    /// Every connected namespace, once: data `TokenExpired`; the token ran
    /// out, events are refused `TOKEN_EXPIRED` until `refresh_token`.
    pub const TOKEN_EXPIRED: &str = "token_expired";

    /// Every server → client event (the event docs are checked against it).
    pub const ALL: &[&str] = &[
        TOKEN_EXPIRED,
        NEW_MESSAGE,
        MESSAGE_UPDATED,
        MESSAGE_DELETED,
        MESSAGE_STATUS,
        USER_TYPING,
        USER_ONLINE,
        USER_OFFLINE,
        CONVERSATION_UPDATED,
        MEMBER_ADDED,
        MEMBER_REMOVED,
        POLL_UPDATED,
        REACTION_ADDED,
        REACTION_REMOVED,
        USER_UPDATED,
        CONVERSATION_READ,
        SESSION_CLOSED,
        CONVERSATION_SETTINGS_UPDATED,
        CALL_INVITE,
        CALL_ACCEPT,
        CALL_REJECT,
        CALL_UPDATED,
        CALL_END,
        CALL_SIGNAL,
    ];
}

/// The Socket.IO CONNECT auth payload: `io({auth:{token}})`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectAuth {
    #[serde(default)]
    pub token: Option<String>,
    /// Connection-state recovery: the private session id of the CONNECT
    /// answer this client had (socket.io-client sends it back on reconnect).
    #[serde(
        default,
        deserialize_with = "string_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub pid: Option<String>,
    /// The offset (last argument) of the last event the client received.
    #[serde(
        default,
        deserialize_with = "string_or_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub offset: Option<String>,
    /// `false`: no `pid` and no offsets for this connection (clients whose
    /// event handlers take a fixed number of arguments, e.g. python-socketio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<bool>,
}

/// A string, or `None` for anything else (recovery fields are advisory).
fn string_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

/// CONNECT_ERROR payload: `{message, data:{code}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectError {
    pub message: String,
    pub data: ConnectErrorData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectErrorData {
    pub code: ErrorCode,
}

impl ConnectError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: ConnectErrorData { code },
        }
    }
}

/// `join_conversation`, `leave_conversation`, `typing_start`, `typing_stop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationRef {
    pub conversation_id: Uuid,
}

/// `message_read`, `message_delivered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageRef {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
}

/// `user_typing` (server → client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserTyping {
    pub conversation_id: Uuid,
    pub user_id: String,
    pub typing: bool,
}

/// `user_updated` (server → client, on `/notifications`): a co-member's TMS
/// profile changed; refetch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserUpdated {
    pub user_id: String,
}

/// `refresh_token` (client → server, any namespace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshToken {
    /// A fresh TMS JWT of the connection's user.
    pub token: String,
}

/// The ack of `refresh_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenRefreshed {
    /// The new token's `exp` plus the leeway, unix milliseconds.
    pub valid_until_ms: u64,
}

/// `token_expired` (server → client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenExpired {
    /// When it ran out (`exp` plus the leeway), unix milliseconds.
    pub expired_at_ms: Option<u64>,
}

/// `session_closed` (server → client, on `/notifications`): the server ends
/// the session; a DISCONNECT of every namespace follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionClosed {
    /// Why, e.g. `user_deleted`.
    pub reason: String,
}

/// `user_online` / `user_offline` (server → client, on `/messaging`), to
/// online users who share a conversation with `user_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresenceChanged {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `member_added` (server → client, `/notifications`), to every member, the added ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembersAdded {
    pub conversation_id: Uuid,
    /// TMS ids of the users added, in the order asked.
    pub user_ids: Vec<String>,
}

/// `member_removed` (server → client): on `/notifications` to the members as
/// they were before (the removed user included), and on `/messaging` to the
/// conversation's room, which then drops the removed user's sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberRemoved {
    pub conversation_id: Uuid,
    /// Who left or was removed (TMS id).
    pub user_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReceiptKind {
    Delivered,
    Read,
}

/// `message_status` (server → client, `/messaging`): a recipient marked a
/// message delivered or read; to the sender's devices only, never the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageStatusChanged {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    /// The recipient who marked it (TMS id).
    pub user_id: String,
    pub status: ReceiptKind,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The ack every client event gets: `{ok:true,data}` or `{ok:false,error}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ack {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AckError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AckError {
    pub code: ErrorCode,
    pub message: String,
    /// As the REST envelope's `error.details`; for `RATE_LIMITED`,
    /// `{"retry_after_ms", …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Ack {
    pub fn ok(data: serde_json::Value) -> Self {
        Self {
            ok: true,
            data: Some(data),
            error: None,
        }
    }

    pub fn ok_empty() -> Self {
        Self {
            ok: true,
            data: None,
            error: None,
        }
    }

    pub fn err(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::err_with_details(code, message, None)
    }

    pub fn err_with_details(
        code: ErrorCode,
        message: impl Into<String>,
        details: Option<serde_json::Value>,
    ) -> Self {
        Self {
            ok: false,
            data: None,
            error: Some(AckError {
                code,
                message: message.into(),
                details,
            }),
        }
    }
}

impl From<ApiErrorBody> for AckError {
    fn from(e: ApiErrorBody) -> Self {
        Self {
            code: e.code,
            message: e.message,
            details: e.details,
        }
    }
}
