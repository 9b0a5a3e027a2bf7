//! Read state across devices and system messages: the wire types of
//! `POST /conversations/{id}/read`, `POST /conversations/read-all`, the
//! `conversation_read` event and the `system` field of a `system` message.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /conversations/{id}/read`: everything up to and including `seq` is
/// read. A `seq` above the conversation's last is taken as its last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadUpTo {
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub seq: i64,
}

/// A member's read state of one conversation: the answer of the read routes
/// and the data of `conversation_read`, sent to every socket of the reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationRead {
    pub conversation_id: Uuid,
    pub last_read_seq: i64,
    /// Messages of others above `last_read_seq`, deleted ones not counted
    /// (the conversation list's `unread_count`).
    pub unread_count: i64,
}

/// What a `system` message records, in its `system` field. Its `actor_id`
/// (a TMS id) is the message's `sender_id`: the member who caused it, for
/// whom it is never unread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemEvent {
    /// `actor_id` added `user_ids` to the group.
    MemberAdded {
        actor_id: String,
        user_ids: Vec<String>,
    },
    /// `actor_id` removed `user_id` from the group.
    MemberRemoved { actor_id: String, user_id: String },
    /// `actor_id` left the group.
    MemberLeft { actor_id: String },
    /// `actor_id` renamed the group.
    TitleChanged {
        actor_id: String,
        title: String,
        old_title: Option<String>,
    },
    /// Nobody answered `actor_id`'s call (it rang out or was rejected).
    CallMissed {
        actor_id: String,
        call_id: Uuid,
        /// `voice` or `video`.
        media: String,
    },
    /// `actor_id`'s answered call ended.
    CallEnded {
        actor_id: String,
        call_id: Uuid,
        /// `voice` or `video`.
        media: String,
        /// Whole seconds from the first answer to the end.
        duration_secs: i64,
        ended_at: DateTime<Utc>,
    },
}

impl SystemEvent {
    pub fn actor_id(&self) -> &str {
        match self {
            Self::MemberAdded { actor_id, .. }
            | Self::MemberRemoved { actor_id, .. }
            | Self::MemberLeft { actor_id }
            | Self::TitleChanged { actor_id, .. }
            | Self::CallMissed { actor_id, .. }
            | Self::CallEnded { actor_id, .. } => actor_id,
        }
    }

    /// A plain English line, the message's `content` for clients that do not
    /// know the event (they show it as text).
    pub fn describe(&self) -> String {
        match self {
            Self::MemberAdded { actor_id, user_ids } => {
                format!("{actor_id} added {}", user_ids.join(", "))
            }
            Self::MemberRemoved { actor_id, user_id } => format!("{actor_id} removed {user_id}"),
            Self::MemberLeft { actor_id } => format!("{actor_id} left"),
            Self::TitleChanged {
                actor_id, title, ..
            } => format!("{actor_id} changed the title to \"{title}\""),
            Self::CallMissed { media, .. } => format!("Missed {media} call"),
            Self::CallEnded {
                media,
                duration_secs,
                ..
            } => format!(
                "{} call, {}:{:02}",
                capitalized(media),
                duration_secs / 60,
                duration_secs % 60
            ),
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_events_are_tagged_by_event() {
        let e = SystemEvent::MemberLeft {
            actor_id: "bob".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event": "member_left", "actor_id": "bob"})
        );
        assert_eq!(serde_json::from_value::<SystemEvent>(v).unwrap(), e);
        assert_eq!(e.describe(), "bob left");
    }

    #[test]
    fn a_call_ended_line_has_its_duration() {
        let e = SystemEvent::CallEnded {
            actor_id: "alice".into(),
            call_id: Uuid::nil(),
            media: "voice".into(),
            duration_secs: 125,
            ended_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(e.describe(), "Voice call, 2:05");
    }
}

/// One change of `GET /sync`: `event` names it as the live Socket.IO event
/// does (`new_message`, `message_updated`, `message_deleted`,
/// `reactions_changed`, `poll_updated`, `message_status`,
/// `conversation_read`, `member_added`, `member_removed`,
/// `conversation_updated`), and `data` is the thing's state as of the feed's
/// answer (a message edited twice is sent twice, with the last content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncChange {
    /// Its position: `since` for the changes after it.
    pub cursor: String,
    pub event: String,
    pub conversation_id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}
