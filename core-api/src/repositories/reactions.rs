use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::reaction::ReactionCountRow;

/// Locks the message until the transaction ends, so one message's reactions
/// change one at a time (exact counts, a bounded number of emoji). `None`: no
/// such message; `Some(deleted_at)` otherwise.
pub async fn lock_message(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    message_id: Uuid,
) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT deleted_at FROM messages WHERE conversation_id = $1 AND id = $2 FOR NO KEY UPDATE",
    )
    .bind(conversation_id)
    .bind(message_id)
    .fetch_optional(conn)
    .await
}

/// False when the user already had this emoji on the message.
pub async fn insert(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    user_id: Uuid,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reactions (conversation_id, message_id, user_id, emoji) VALUES ($1, $2, $3, $4)
         ON CONFLICT (conversation_id, message_id, user_id, emoji) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// False when the user had no such reaction.
pub async fn delete(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    user_id: Uuid,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM reactions
         WHERE conversation_id = $1 AND message_id = $2 AND user_id = $3 AND emoji = $4",
    )
    .bind(conversation_id)
    .bind(message_id)
    .bind(user_id)
    .bind(emoji)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    emoji: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM reactions
         WHERE conversation_id = $1 AND message_id = $2 AND emoji = $3",
    )
    .bind(conversation_id)
    .bind(message_id)
    .bind(emoji)
    .fetch_one(db)
    .await
}

/// How many different emoji the message carries.
pub async fn distinct_emoji(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(DISTINCT emoji) FROM reactions WHERE conversation_id = $1 AND message_id = $2",
    )
    .bind(conversation_id)
    .bind(message_id)
        .fetch_one(db)
        .await
}

/// Per message and emoji: the count and whether `viewer` is among them; each
/// message's emoji in the order they were first used. `messages` are
/// `(conversation_id, id)` pairs (a page: one conversation).
pub async fn counts(
    db: impl PgExecutor<'_>,
    messages: &[(Uuid, Uuid)],
    viewer: Uuid,
) -> Result<Vec<ReactionCountRow>, sqlx::Error> {
    let (conversations, ids): (Vec<Uuid>, Vec<Uuid>) = messages.iter().copied().unzip();
    sqlx::query_as(
        "SELECT r.message_id, r.emoji, count(*) AS count, bool_or(r.user_id = $3) AS me
         FROM reactions r
         WHERE r.conversation_id = ANY($1)
           AND (r.conversation_id, r.message_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
         GROUP BY r.message_id, r.emoji
         ORDER BY r.message_id, min(r.created_at), r.emoji",
    )
    .bind(conversations)
    .bind(ids)
    .bind(viewer)
    .fetch_all(db)
    .await
}
