//! Who to push a new message to, and their badges.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::conversation::DbConversationKind;

/// A member whose settings let a message through (before presence is asked).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub tms_user_id: String,
    /// Mentioned by name or by `@all`.
    pub mentioned: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationInfo {
    pub kind: DbConversationKind,
    pub title: Option<String>,
    /// The conversation's privacy setting: previews in its pushes.
    pub push_previews: bool,
}

pub async fn conversation(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ConversationInfo>, sqlx::Error> {
    sqlx::query_as("SELECT kind, title, push_previews FROM conversations WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Sets the conversation's privacy setting; `false` when there is no such conversation.
pub async fn set_push_previews(
    db: impl PgExecutor<'_>,
    id: Uuid,
    push_previews: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE conversations SET push_previews = $2 WHERE id = $1")
        .bind(id)
        .bind(push_previews)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The members other than the sender who are not muted at `now` and whose
/// level covers the message: `all`, or `mentions` when they are mentioned.
pub async fn candidates(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    sender_tms_id: &str,
    mentions: &[String],
    mentions_all: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.tms_user_id, ($4 OR u.tms_user_id = ANY($3)) AS mentioned
           FROM conversation_members cm JOIN users u ON u.id = cm.user_id
          WHERE cm.conversation_id = $1 AND u.tms_user_id <> $2
            AND cm.notification_level <> 'none'
            AND (cm.muted_until IS NULL OR cm.muted_until <= $5)
            AND (cm.notification_level = 'all' OR $4 OR u.tms_user_id = ANY($3))
          ORDER BY u.tms_user_id",
    )
    .bind(conversation_id)
    .bind(sender_tms_id)
    .bind(mentions)
    .bind(mentions_all)
    .bind(now)
    .fetch_all(db)
    .await
}

/// `(tms id, unread messages over the conversations they have not archived)`.
pub async fn badges(
    db: impl PgExecutor<'_>,
    tms_ids: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.tms_user_id,
                COALESCE(sum(GREATEST(c.last_seq - cm.last_read_seq, 0))
                         FILTER (WHERE NOT cm.archived), 0)::bigint
           FROM users u
           JOIN conversation_members cm ON cm.user_id = u.id
           JOIN conversations c ON c.id = cm.conversation_id
          WHERE u.tms_user_id = ANY($1)
          GROUP BY u.tms_user_id",
    )
    .bind(tms_ids)
    .fetch_all(db)
    .await
}
