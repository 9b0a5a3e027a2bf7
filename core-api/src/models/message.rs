use chrono::{DateTime, Utc};
use shared_types::api::{Attachment, Message, MessageKind};
use shared_types::sync::SystemEvent;
use sqlx::types::Json;
use uuid::Uuid;

/// `messages.kind` as stored. Decoding an unknown value is an error: a kind
/// this build does not know must not be shown as something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DbMessageKind {
    Text,
    Image,
    File,
    Voice,
    System,
    Poll,
}

impl From<MessageKind> for DbMessageKind {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Text => Self::Text,
            MessageKind::Image => Self::Image,
            MessageKind::File => Self::File,
            MessageKind::Voice => Self::Voice,
            MessageKind::System => Self::System,
            MessageKind::Poll => Self::Poll,
        }
    }
}

impl From<DbMessageKind> for MessageKind {
    fn from(kind: DbMessageKind) -> Self {
        match kind {
            DbMessageKind::Text => Self::Text,
            DbMessageKind::Image => Self::Image,
            DbMessageKind::File => Self::File,
            DbMessageKind::Voice => Self::Voice,
            DbMessageKind::System => Self::System,
            DbMessageKind::Poll => Self::Poll,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    /// The sender's TMS id.
    pub sender_id: String,
    pub kind: DbMessageKind,
    pub content: Option<String>,
    pub attachment: Option<Json<Attachment>>,
    pub reply_to_id: Option<Uuid>,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub mentions: Vec<String>,
    pub mentions_all: bool,
}

/// A conversation's last message as `list_for_user` selects it (a LEFT JOIN,
/// so every column may be null), turned into a `Message` by the one mapping.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LastMessageColumns {
    pub lm_id: Option<Uuid>,
    pub lm_seq: Option<i64>,
    pub lm_sender_id: Option<String>,
    pub lm_kind: Option<DbMessageKind>,
    pub lm_content: Option<String>,
    pub lm_attachment: Option<Json<Attachment>>,
    pub lm_reply_to_id: Option<Uuid>,
    pub lm_client_msg_id: Option<String>,
    pub lm_created_at: Option<DateTime<Utc>>,
    pub lm_edited_at: Option<DateTime<Utc>>,
    pub lm_deleted_at: Option<DateTime<Utc>>,
    pub lm_mentions: Option<Vec<String>>,
    pub lm_mentions_all: Option<bool>,
}

impl LastMessageColumns {
    /// `None` for a conversation without messages.
    pub fn into_message(self, conversation_id: Uuid) -> Option<Message> {
        let row = MessageRow {
            id: self.lm_id?,
            conversation_id,
            seq: self.lm_seq?,
            sender_id: self.lm_sender_id?,
            kind: self.lm_kind?,
            content: self.lm_content,
            attachment: self.lm_attachment,
            reply_to_id: self.lm_reply_to_id,
            client_msg_id: self.lm_client_msg_id,
            created_at: self.lm_created_at?,
            edited_at: self.lm_edited_at,
            deleted_at: self.lm_deleted_at,
            mentions: self.lm_mentions.unwrap_or_default(),
            mentions_all: self.lm_mentions_all.unwrap_or_default(),
        };
        Some(row.into())
    }
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        // a system message stores its event as JSON in `content`; the wire
        // carries it as `system`, and `content` as the event in English
        let system = row
            .content
            .as_deref()
            .filter(|_| row.kind == DbMessageKind::System)
            .and_then(|c| serde_json::from_str::<SystemEvent>(c).ok());
        let content = match &system {
            Some(event) => Some(event.describe()),
            None => row.content,
        };
        Message {
            system,
            id: row.id,
            conversation_id: row.conversation_id,
            seq: row.seq,
            sender_id: row.sender_id,
            kind: row.kind.into(),
            content,
            client_msg_id: row.client_msg_id,
            reply_to_id: row.reply_to_id,
            attachment: row.attachment.map(|a| a.0),
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted_at: row.deleted_at,
            mentions: row.mentions,
            mentions_all: row.mentions_all,
            // filled by the poll and reaction services where an answer carries them
            poll_id: None,
            reactions: None,
        }
    }
}
