//! Push to offline members: what core sends to the push gateway
//! (`PUSH_WEBHOOK_URL`), one POST per batch, signed like the TMS webhook:
//!
//! ```text
//! X-Push-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(PUSH_WEBHOOK_SECRET, "<t>.<raw body>")>
//! ```
//!
//! A batch that failed is sent again with the same events: a gateway keeps
//! each `event_id` once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ConversationType;

/// The signature header (`shared_auth::webhook_sig` builds and checks its value).
pub const PUSH_SIGNATURE_HEADER: &str = "x-push-signature";

/// The body of one push request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushBatch {
    pub events: Vec<PushEvent>,
}

/// One new message, for the members who should hear of it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushEvent {
    /// Unique per event (the message id): the key a gateway deduplicates on.
    pub event_id: String,
    pub conversation_id: Uuid,
    pub conversation_type: ConversationType,
    /// The group's title; `null` for a DM.
    pub conversation_title: Option<String>,
    pub message_id: Uuid,
    pub seq: i64,
    /// The sender's TMS id.
    pub sender_id: String,
    /// The start of the text (`null` when the conversation hides previews,
    /// or for a message without text).
    pub preview: Option<String>,
    pub recipients: PushRecipients,
}

/// Who to notify, by why: mentioned (by name or `@all`), or as members
/// whose level is `all`. Never the sender, a member with a socket online,
/// a muted member, or one whose level does not cover this message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRecipients {
    pub mentions: Vec<PushRecipient>,
    pub all: Vec<PushRecipient>,
}

impl PushRecipients {
    pub fn is_empty(&self) -> bool {
        self.mentions.is_empty() && self.all.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRecipient {
    /// TMS id.
    pub user_id: String,
    /// The app badge: the recipient's unread messages over every
    /// conversation that is not archived (from their read marks).
    pub badge: i64,
}
