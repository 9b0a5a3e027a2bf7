use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Records delivery (and, with `read`, reading) of one message by one user.
/// Marks only move forward: a second mark keeps the first time.
pub async fn mark(
    db: impl PgExecutor<'_>,
    message_id: Uuid,
    user_id: Uuid,
    read: bool,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), sqlx::Error> {
    let row = sqlx::query!(
        "INSERT INTO message_status (message_id, user_id, delivered_at, read_at)
         VALUES ($1, $2, now(), CASE WHEN $3 THEN now() END)
         ON CONFLICT (message_id, user_id) DO UPDATE SET
            delivered_at = COALESCE(message_status.delivered_at, EXCLUDED.delivered_at),
            read_at = COALESCE(message_status.read_at, EXCLUDED.read_at)
         RETURNING delivered_at, read_at",
        message_id,
        user_id,
        read,
    )
    .fetch_one(db)
    .await?;
    Ok((row.delivered_at, row.read_at))
}

/// One recipient's marks, as `GET /messages/{id}/status` answers them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RecipientStatus)]
pub struct StatusRow {
    pub user_id: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Per-recipient status of a message: every other member, marked or not.
pub async fn for_message(
    db: impl PgExecutor<'_>,
    message_id: Uuid,
    conversation_id: Uuid,
    sender_id: Uuid,
) -> Result<Vec<StatusRow>, sqlx::Error> {
    sqlx::query_as!(
        StatusRow,
        "SELECT u.tms_user_id AS user_id, s.delivered_at, s.read_at
           FROM conversation_members cm
           JOIN users u ON u.id = cm.user_id
           LEFT JOIN message_status s ON s.message_id = $1 AND s.user_id = cm.user_id
          WHERE cm.conversation_id = $2 AND cm.user_id <> $3
          ORDER BY u.tms_user_id",
        message_id,
        conversation_id,
        sender_id,
    )
    .fetch_all(db)
    .await
}
