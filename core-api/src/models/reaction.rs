use shared_types::reactions::ReactionCount;
use uuid::Uuid;

/// One emoji on one message: how many reacted, and whether the caller did.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactionCountRow {
    pub message_id: Uuid,
    pub emoji: String,
    pub count: i64,
    pub me: bool,
}

impl From<ReactionCountRow> for ReactionCount {
    fn from(row: ReactionCountRow) -> Self {
        ReactionCount {
            emoji: row.emoji,
            count: row.count,
            me: row.me,
        }
    }
}
