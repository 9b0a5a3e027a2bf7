use chrono::{DateTime, Utc};
use shared_types::api::{Attachment, Message, MessageKind};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    /// The sender's TMS id.
    pub sender_id: String,
    pub kind: String,
    pub content: Option<String>,
    pub attachment: Option<Json<Attachment>>,
    pub reply_to_id: Option<Uuid>,
    pub client_msg_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

pub fn kind_to_db(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::Image => "image",
        MessageKind::File => "file",
        MessageKind::Voice => "voice",
        MessageKind::System => "system",
        MessageKind::Poll => "poll",
    }
}

pub fn kind_from_db(kind: &str) -> MessageKind {
    match kind {
        "image" => MessageKind::Image,
        "file" => MessageKind::File,
        "voice" => MessageKind::Voice,
        "system" => MessageKind::System,
        "poll" => MessageKind::Poll,
        _ => MessageKind::Text,
    }
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            conversation_id: row.conversation_id,
            seq: row.seq,
            sender_id: row.sender_id,
            kind: kind_from_db(&row.kind),
            content: row.content,
            client_msg_id: row.client_msg_id,
            reply_to_id: row.reply_to_id,
            attachment: row.attachment.map(|a| a.0),
            created_at: row.created_at,
            edited_at: row.edited_at,
            deleted_at: row.deleted_at,
            // filled by the poll and reaction services where an answer carries them
            poll_id: None,
            reactions: None,
        }
    }
}
