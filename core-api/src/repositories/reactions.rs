use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::reaction::ReactionCountRow;

/// Locks the message until the transaction ends, so one message's reactions
/// change one at a time (exact counts, a bounded number of emoji). `None`: no
/// such message; `Some(deleted_at)` otherwise.
pub async fn lock_message(
    conn: &mut PgConnection,
    message_id: Uuid,
) -> Result<Option<Option<DateTime<Utc>>>, sqlx::Error> {
    sqlx::query_scalar("SELECT deleted_at FROM messages WHERE id = $1 FOR NO KEY UPDATE")
        .bind(message_id)
        .fetch_optional(conn)
        .await
}

/// False when the user already had this emoji on the message.
pub async fn insert(
    db: impl PgExecutor<'_>,
    message_id: Uuid,
    user_id: Uuid,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3)
         ON CONFLICT (message_id, user_id, emoji) DO NOTHING",
    )
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
    message_id: Uuid,
    user_id: Uuid,
    emoji: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3")
            .bind(message_id)
            .bind(user_id)
            .bind(emoji)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count(
    db: impl PgExecutor<'_>,
    message_id: Uuid,
    emoji: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2")
        .bind(message_id)
        .bind(emoji)
        .fetch_one(db)
        .await
}

/// How many different emoji the message carries.
pub async fn distinct_emoji(db: impl PgExecutor<'_>, message_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1")
        .bind(message_id)
        .fetch_one(db)
        .await
}

/// Per message and emoji: the count and whether `viewer` is among them; each
/// message's emoji in the order they were first used.
pub async fn counts(
    db: impl PgExecutor<'_>,
    message_ids: &[Uuid],
    viewer: Uuid,
) -> Result<Vec<ReactionCountRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT message_id, emoji, count(*) AS count, bool_or(user_id = $2) AS me
         FROM reactions WHERE message_id = ANY($1)
         GROUP BY message_id, emoji
         ORDER BY message_id, min(created_at), emoji",
    )
    .bind(message_ids)
    .bind(viewer)
    .fetch_all(db)
    .await
}
