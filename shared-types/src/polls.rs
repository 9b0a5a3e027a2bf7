//! Polls: `POST /api/v1/conversations/{id}/polls`, `GET /api/v1/polls/{id}`,
//! `PUT|DELETE /api/v1/polls/{id}/vote`, `POST /api/v1/polls/{id}/close`, and
//! the live `poll_updated` event (its data is a [`Poll`] without `my_votes`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Message;

/// `POST /api/v1/conversations/{id}/polls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatePoll {
    pub question: String,
    /// 2 to 10 option texts, in display order.
    pub options: Vec<String>,
    /// Several options per voter.
    #[serde(default)]
    pub multiple: bool,
    /// Results carry counts only, never who voted.
    #[serde(default)]
    pub anonymous: bool,
    /// No votes are taken from this time on; must be in the future.
    #[serde(default)]
    pub closes_at: Option<DateTime<Utc>>,
}

/// `PUT /api/v1/polls/{id}/vote`: the caller's whole choice; it replaces any earlier vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vote {
    pub option_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PollOption {
    pub id: Uuid,
    pub position: i32,
    pub text: String,
    pub votes: i64,
    /// TMS ids of the voters, oldest vote first; absent for an anonymous poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Poll {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The `poll` message that announced it in the conversation.
    pub message_id: Option<Uuid>,
    /// The creator's TMS id.
    pub creator_id: String,
    pub question: String,
    pub multiple: bool,
    pub anonymous: bool,
    pub closes_at: Option<DateTime<Utc>>,
    /// Set when it was closed by hand.
    pub closed_at: Option<DateTime<Utc>>,
    /// Closed by hand or past `closes_at`: no more votes.
    pub closed: bool,
    pub options: Vec<PollOption>,
    /// People who voted (one person counts once, whatever the options).
    pub total_voters: i64,
    /// Grows with every change of votes or state: of two `poll_updated`, keep the higher.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// The caller's options (REST answers only; absent in `poll_updated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_votes: Option<Vec<Uuid>>,
}

/// Answer of `POST /api/v1/conversations/{id}/polls`: the poll and the message that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedPoll {
    pub poll: Poll,
    pub message: Message,
}
