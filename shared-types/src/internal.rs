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

/// `POST /internal/v1/messages/batch`: a gateway's queued socket sends, as
/// one system call (each send names the user the edge verified). Core stores
/// each user's sends in their order and answers one result per send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistBatch {
    pub sends: Vec<BatchedSend>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchedSend {
    /// The sender's `tms_user_id`.
    pub user_id: String,
    pub message: SendMessage,
}

/// Response of `POST /internal/v1/messages/batch`: one envelope per send, in
/// the batch's order (a refused send fails alone, e.g. `RATE_LIMITED`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedBatch {
    pub results: Vec<crate::Envelope<PersistedMessage>>,
}

/// Most sends in one batch.
pub const MAX_BATCHED_SENDS: usize = 256;

/// `GET /internal/v1/denied-users`: the users TMS deleted whose tokens may
/// still be alive (a system call; the edge keeps the list per isolate).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedUsers {
    pub users: Vec<DeniedUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedUser {
    pub tms_user_id: String,
    /// When TMS said so, unix seconds: tokens issued at or before it are refused.
    pub denied_at: u64,
}

impl PersistBatch {
    /// The body of a batch whose sends were each serialised on arrival
    /// (`serde_json::to_string(&BatchedSend)`), so the edge can weigh them
    /// against the body limit without serialising them twice.
    pub fn body_from_encoded<S: AsRef<str>>(sends: &[S]) -> String {
        let len: usize = sends.iter().map(|s| s.as_ref().len() + 1).sum();
        let mut body = String::with_capacity(len + 12);
        body.push_str("{\"sends\":[");
        for (i, send) in sends.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(send.as_ref());
        }
        body.push_str("]}");
        body
    }
}

/// `GET /internal/v1/conversations/{id}/membership` (acting user in the header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub conversation_id: Uuid,
    pub user_id: String,
    pub is_member: bool,
    /// The conversation's removal epoch when membership was read (see
    /// `FanoutEvent::removal_epoch`): the socket's join is verified up to it.
    #[serde(default)]
    pub removal_epoch: i64,
}

/// Most users one `members/check` may ask about (a gateway holds at most a
/// few thousand sockets; it asks in chunks of this size).
pub const MAX_MEMBER_CHECK_USERS: usize = 2_000;

/// `POST /internal/v1/conversations/{id}/members/check` (a system call): which
/// of these users are members now. A gateway asks it when a room event
/// carries a removal epoch newer than the one its sockets were verified at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCheck {
    pub user_ids: Vec<String>,
}

/// The answer: the asked users who are members, read from Postgres with the
/// conversation's removal epoch in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCheckAnswer {
    pub removal_epoch: i64,
    pub members: Vec<String>,
}

/// `POST /internal/v1/fanout` on the edge: events that originated in core,
/// in the order core committed them. Core sends what queued up on one of its
/// push lanes as one batch; the edge keeps the order per target.
/// `D` is how `data` is held: a JSON value at core, the JSON text itself at
/// the edge (which builds frames around it and never needs its fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutBatch<D = serde_json::Value> {
    pub events: Vec<FanoutEvent<D>>,
}

/// One event for the edge to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutEvent<D = serde_json::Value> {
    pub target: FanoutTarget,
    /// Socket.IO namespace, e.g. `/messaging`.
    pub namespace: String,
    /// Event name, e.g. `new_message`.
    pub event: String,
    pub data: D,
    /// Per-conversation order key; the Room delivers in `seq` order and drops repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// For an event about a message (an edit, a delete, a reaction, a poll
    /// update): that message's `seq`. The Room holds the event until it has
    /// delivered that seq (briefly, as for a gap), so an event stored by one
    /// core replica never overtakes the `new_message` another replica has
    /// not pushed yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<i64>,
    /// A member left or was removed: once this event is delivered, the
    /// gateways drop that user's sockets from the conversation's room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evict_user_id: Option<String>,
    /// For a `Conversation` target: the conversation's removal epoch (a
    /// counter core raises with every member removed or leaving). A gateway
    /// delivers to a joined socket only when the socket's membership was
    /// verified at this epoch or later, else it asks core first; so a removed
    /// member's socket hears nothing more even when its eviction was lost.
    /// On an eviction event it is the epoch that removal created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_epoch: Option<i64>,
    /// For a `Gateways` target: once the event is delivered, the gateways
    /// disconnect every socket of its users (a user deleted in TMS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close_sessions: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FanoutTarget {
    /// The conversation's Room object: every socket joined to
    /// `conversation:{id}` gets the event on `namespace`. `notify` names the
    /// gateways registered as holding online members of the conversation
    /// (core's `{conv:<id>}:gateways`, kept up when presence or membership
    /// changes, never per message); each decides which of its own users are
    /// members, and their sockets that have not joined the room get the same
    /// event on `/notifications` instead. Never a member list: its size
    /// follows the gateways, not the members. Core fills it for `new_message` only.
    Conversation {
        conversation_id: Uuid,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notify: Vec<NotifyGateway>,
    },
    /// Every socket of these users on these gateways, on `namespace`; core
    /// resolved the gateways from presence. The cost is one object request
    /// per gateway, whatever the number of users.
    Gateways { gateways: Vec<GatewayUsers> },
    /// Every socket, on `namespace`, of the conversation's members on each
    /// gateway of its notify set (each decides which of its users are
    /// members, as for `Conversation::notify`), and of the `also` users
    /// (resolved from presence, e.g. a member just removed). A membership
    /// event (`member_added`, `member_removed`, `conversation_updated`)
    /// carries no member list either: its size follows the gateways.
    Members {
        conversation_id: Uuid,
        gateways: Vec<NotifyGateway>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<GatewayUsers>,
    },
}

/// A gateway registered in a conversation's notify set, with the stamp of
/// its registration (a per-conversation counter: every registration takes a
/// new one). A gateway that finds none of its users a member names the
/// stamp back (`NotifyPrune`); core removes the entry only if no
/// registration came since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyGateway {
    pub gateway: String,
    pub stamp: u64,
}

/// `POST /internal/v1/conversations/{id}/gateways/prune` (a system call): a
/// gateway holds no member of the conversation, as of the registration
/// `stamp` its notify carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyPrune {
    pub gateway: String,
    pub stamp: u64,
}

/// The answer: whether the entry was removed (false: a newer registration
/// stands, or there was none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyPruned {
    pub removed: bool,
}

/// Users with at least one socket on one gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayUsers {
    /// The gateway object's name, e.g. `DFW.0` (location and shard); opaque to core.
    pub gateway: String,
    pub user_ids: Vec<String>,
}

/// Response of `POST /internal/v1/fanout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanoutResult {
    /// Events handed to their Room or gateways.
    pub accepted: u32,
}

/// Longest gateway name core accepts in a presence report.
pub const MAX_GATEWAY_NAME_BYTES: usize = 64;
/// Most user ids in one presence report list.
pub const MAX_PRESENCE_REPORT_USERS: usize = 5_000;

/// `POST /internal/v1/presence` (a system call: no acting user). Gateways
/// report which users they hold, in batches, never per socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceReport {
    pub gateway: String,
    /// Users whose first socket on this gateway arrived since the last
    /// report (or who came back after a departure core may have heard of):
    /// core registers the gateway in each of their conversations' notify sets.
    #[serde(default)]
    pub arrived: Vec<String>,
    /// Users whose last socket on this gateway left since the last report.
    #[serde(default)]
    pub departed: Vec<String>,
    /// Every user with a socket on this gateway now; sent periodically so that
    /// `presence:{id}` stays fresh (its TTL is 300 s).
    #[serde(default)]
    pub present: Vec<String>,
}

/// `POST /internal/v1/receipts/{read|delivered}` (acting user in the header).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::MessageKind;

    #[test]
    fn a_body_of_sends_encoded_one_by_one_reads_as_the_batch() {
        let sends: Vec<BatchedSend> = ["alice", "bob \"b\""]
            .iter()
            .map(|user| BatchedSend {
                user_id: (*user).to_owned(),
                message: SendMessage {
                    conversation_id: Uuid::nil(),
                    kind: MessageKind::Text,
                    content: Some(format!("hi from {user}\n")),
                    client_msg_id: Some("c-1".into()),
                    reply_to_id: None,
                    attachment: None,
                    mentions: Vec::new(),
                    mentions_all: false,
                },
            })
            .collect();
        let encoded: Vec<String> = sends
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        let body = PersistBatch::body_from_encoded(&encoded);
        let read: PersistBatch = serde_json::from_str(&body).unwrap();
        assert_eq!(read, PersistBatch { sends });
        let empty: PersistBatch =
            serde_json::from_str(&PersistBatch::body_from_encoded::<String>(&[])).unwrap();
        assert!(empty.sends.is_empty());
    }
}
