//! Calls as stored, and as the service works on them (`CallRecord`: the call
//! with its participants, whose transitions live in `services::calls::machine`).

use chrono::{DateTime, Utc};
use shared_types::calls::{
    Call, CallMedia, CallParticipant, CallStatus, EndReason, ParticipantStatus,
};
use uuid::Uuid;

pub use super::call_state::{DbCallMedia, DbCallStatus, DbEndReason, DbParticipantStatus};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The caller's local id (rules) and TMS id (the wire).
    pub initiator_user_id: Uuid,
    pub initiator_id: String,
    pub media: DbCallMedia,
    pub status: DbCallStatus,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<DbEndReason>,
    pub ring_deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParticipantRow {
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub tms_user_id: String,
    pub status: DbParticipantStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
}

/// One call with its participants, in the API's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub initiator_user_id: Uuid,
    pub initiator_id: String,
    pub media: CallMedia,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub ring_deadline: Option<DateTime<Utc>>,
    /// The caller first, then the callees by TMS id.
    pub participants: Vec<Participant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub user_id: Uuid,
    pub tms_user_id: String,
    pub status: ParticipantStatus,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
}

impl CallRecord {
    /// The call row with its participant rows (those of other calls are ignored).
    pub fn from_rows(row: CallRow, participants: &[ParticipantRow]) -> Self {
        let mut list: Vec<Participant> = participants
            .iter()
            .filter(|p| p.call_id == row.id)
            .map(|p| Participant {
                user_id: p.user_id,
                tms_user_id: p.tms_user_id.clone(),
                status: p.status.into(),
                joined_at: p.joined_at,
                left_at: p.left_at,
            })
            .collect();
        let caller = row.initiator_user_id;
        list.sort_by(|a, b| {
            (a.user_id != caller, &a.tms_user_id).cmp(&(b.user_id != caller, &b.tms_user_id))
        });
        Self {
            id: row.id,
            conversation_id: row.conversation_id,
            initiator_user_id: row.initiator_user_id,
            initiator_id: row.initiator_id,
            media: row.media.into(),
            status: row.status.into(),
            started_at: row.started_at,
            answered_at: row.answered_at,
            ended_at: row.ended_at,
            end_reason: row.end_reason.map(Into::into),
            ring_deadline: row.ring_deadline,
            participants: list,
        }
    }

    pub fn to_wire(&self) -> Call {
        let duration_secs = match (self.answered_at, self.ended_at) {
            (Some(from), Some(to)) => Some((to - from).num_seconds().max(0)),
            _ => None,
        };
        Call {
            id: self.id,
            conversation_id: self.conversation_id,
            media: self.media,
            status: self.status,
            initiator_id: self.initiator_id.clone(),
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            end_reason: self.end_reason,
            ring_expires_at: self.ring_deadline,
            duration_secs,
            participants: self
                .participants
                .iter()
                .map(|p| CallParticipant {
                    user_id: p.tms_user_id.clone(),
                    status: p.status,
                    joined_at: p.joined_at,
                    left_at: p.left_at,
                })
                .collect(),
        }
    }
}
