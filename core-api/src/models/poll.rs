use chrono::{DateTime, Utc};
use shared_types::polls::{Poll, PollOption};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PollRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub message_id: Option<Uuid>,
    /// The `seq` of the poll's message: its events follow that message.
    pub message_seq: i64,
    /// The creator's local id (authorization) and TMS id (the wire).
    pub creator_user_id: Uuid,
    pub creator_id: String,
    pub question: String,
    pub multiple_choice: bool,
    pub anonymous: bool,
    pub closes_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// One option with its votes; `voters` is TMS ids, oldest vote first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OptionResultRow {
    pub id: Uuid,
    pub position: i32,
    pub text: String,
    pub votes: i64,
    pub voters: Vec<String>,
}

impl PollRow {
    /// Closed by hand, or `closes_at` has come.
    pub fn is_closed(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_some() || self.closes_at.is_some_and(|t| t <= now)
    }

    /// The wire poll; voters are left out of an anonymous poll's results.
    pub fn into_poll(
        self,
        options: Vec<OptionResultRow>,
        total_voters: i64,
        my_votes: Option<Vec<Uuid>>,
        now: DateTime<Utc>,
    ) -> Poll {
        let closed = self.is_closed(now);
        let anonymous = self.anonymous;
        Poll {
            id: self.id,
            conversation_id: self.conversation_id,
            message_id: self.message_id,
            creator_id: self.creator_id,
            question: self.question,
            multiple: self.multiple_choice,
            anonymous,
            closes_at: self.closes_at,
            closed_at: self.closed_at,
            closed,
            options: options
                .into_iter()
                .map(|o| PollOption {
                    id: o.id,
                    position: o.position,
                    text: o.text,
                    votes: o.votes,
                    voters: (!anonymous).then_some(o.voters),
                })
                .collect(),
            total_voters,
            version: self.version,
            created_at: self.created_at,
            my_votes,
        }
    }
}
