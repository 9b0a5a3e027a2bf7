use chrono::{DateTime, Utc};
use shared_types::api::{Attachment, Message};
use shared_types::search::SearchHit;
use sqlx::types::Json;
use uuid::Uuid;

use crate::models::message::{DbMessageKind, MessageRow};

/// One search result as `repositories::search` selects it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SearchRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
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
    pub snippet: String,
}

/// The filters of one search page; `terms` is a `to_tsquery` text built by
/// `shared_types::search`, never the user's raw input.
#[derive(Debug, Clone)]
pub struct SearchFilter {
    pub user_id: Uuid,
    pub tsquery: String,
    pub conversation_id: Option<Uuid>,
    /// The sender's TMS id.
    pub sender_id: Option<String>,
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
    /// Exclusive `(created_at, id)` position of the previous page's last hit.
    pub cursor: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

impl SearchRow {
    pub fn position(&self) -> (DateTime<Utc>, Uuid) {
        (self.created_at, self.id)
    }

    pub fn into_hit(self) -> SearchHit {
        let snippet = self.snippet;
        let row = MessageRow {
            id: self.id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            kind: self.kind,
            content: self.content,
            attachment: self.attachment,
            reply_to_id: self.reply_to_id,
            client_msg_id: self.client_msg_id,
            created_at: self.created_at,
            edited_at: self.edited_at,
            deleted_at: self.deleted_at,
            mentions: self.mentions,
            mentions_all: self.mentions_all,
        };
        SearchHit {
            message: Message::from(row),
            snippet,
        }
    }
}
