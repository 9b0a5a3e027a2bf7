//! The signed internal API between edge and core (`/internal/v1`, both ways).
//! Signing itself lives in `shared-auth::internal_sig`; these are the bodies.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::{Message, SendMessage};

/// Unix seconds at signing time.
pub const HEADER_TIMESTAMP: &str = "x-internal-timestamp";
/// Random per request, 16..=64 chars of `[0-9A-Za-z_-]` (callers send a uuid v4
/// in simple form, 32 hex chars). It is signed, so every signature is unique and
/// the receiver's replay store can refuse repeats without refusing two identical
/// legitimate requests made in the same second.
pub const HEADER_NONCE: &str = "x-internal-nonce";
/// The acting `tms_user_id` (empty for system calls such as fan-out).
pub const HEADER_USER: &str = "x-internal-user";
/// Lower-case hex HMAC-SHA256 of the canonical string.
pub const HEADER_SIGNATURE: &str = "x-internal-signature";

/// `POST /internal/v1/messages`: persist a message sent over a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistMessage {
    #[serde(flatten)]
    pub message: SendMessage,
}

/// Response of `POST /internal/v1/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedMessage {
    pub message: Message,
    /// False when `client_msg_id` matched an earlier send and nothing new was stored.
    pub created: bool,
}

/// `GET /internal/v1/conversations/{id}/membership` (acting user in the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub conversation_id: Uuid,
    pub user_id: String,
    pub is_member: bool,
}

/// `POST /internal/v1/fanout` on the edge: an event that originated in core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutRequest {
    pub target: FanoutTarget,
    /// Socket.IO namespace, e.g. `/messaging`.
    pub namespace: String,
    /// Event name, e.g. `new_message`.
    pub event: String,
    pub data: serde_json::Value,
    /// Per-conversation order key; the Room delivers in `seq` order and drops repeats.
    #[serde(default)]
    pub seq: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FanoutTarget {
    /// Every session joined to `conversation:{id}` (the Room object). Its cost
    /// follows the joined sessions, so no member list travels with it.
    Conversation { conversation_id: Uuid },
    /// Every live session of these users.
    Users { user_ids: Vec<String> },
}

/// Response of `POST /internal/v1/fanout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutResult {
    pub delivered: u32,
}

/// `POST /internal/v1/messages/{id}/delivered` and `/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkReceipt {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
}

impl PersistMessage {
    pub fn new(message: SendMessage) -> Self {
        Self { message }
    }
}

impl From<Message> for PersistedMessage {
    fn from(message: Message) -> Self {
        Self {
            message,
            created: true,
        }
    }
}
