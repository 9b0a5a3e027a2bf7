use chrono::{DateTime, Utc};
use shared_types::api::Message;
use shared_types::search::SearchHit;
use uuid::Uuid;

use crate::models::message::MessageRow;

/// One search result as `repositories::search` selects it: the message's
/// columns and its snippet.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SearchRow {
    #[sqlx(flatten)]
    pub message: MessageRow,
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
        (self.message.created_at, self.message.id)
    }

    pub fn into_hit(self) -> SearchHit {
        SearchHit {
            message: Message::from(self.message),
            snippet: self.snippet,
        }
    }
}
