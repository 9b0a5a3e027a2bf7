//! Reactions: `PUT|DELETE /api/v1/messages/{id}/reactions/{emoji}` and the
//! live `reaction_added` / `reaction_removed` events.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One emoji on a message, as message responses carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionCount {
    pub emoji: String,
    pub count: i64,
    /// The caller is among those who reacted with it.
    pub me: bool,
}

/// Answer of the reaction routes: the message's reactions after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageReactions {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// In order of each emoji's first use.
    pub reactions: Vec<ReactionCount>,
}

/// `reaction_added` / `reaction_removed` (server → client, `/messaging`, to the room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionChanged {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    /// Who added or removed it (TMS id).
    pub user_id: String,
    pub emoji: String,
    /// How many users have this emoji on the message after the change.
    pub count: i64,
}
