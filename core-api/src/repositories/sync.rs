//! The change feed's rows (`sync_changes`, written by triggers) and its reads.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::message::MessageRow;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub conversation_id: Uuid,
    pub id: i64,
    pub tx: i64,
    pub kind: String,
    pub subject_id: Option<Uuid>,
    pub other_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Every transaction with an id below this one has ended: rows below it can
/// no longer appear behind a position already handed out.
pub async fn safe_tx(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        .fetch_one(db)
        .await
}

/// The user's changes after `(tx, id)` and below `safe_tx`, in order: those
/// of the conversations they are a member of since they joined (one index
/// probe per conversation), and those addressed to them.
pub async fn page(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    after: (i64, i64),
    safe_tx: i64,
    limit: i64,
) -> Result<Vec<ChangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM (
            (SELECT s.conversation_id, s.id, s.tx, s.kind, s.subject_id, s.other_id, s.created_at
               FROM conversation_members cm
               CROSS JOIN LATERAL (
                    SELECT * FROM sync_changes s
                     WHERE s.conversation_id = cm.conversation_id AND s.user_id IS NULL
                       AND (s.tx, s.id) > ($2, $3) AND s.tx < $4
                       AND s.created_at >= cm.joined_at
                     ORDER BY s.tx, s.id LIMIT $5) s
              WHERE cm.user_id = $1)
            UNION ALL
            (SELECT s.conversation_id, s.id, s.tx, s.kind, s.subject_id, s.other_id, s.created_at
               FROM sync_changes s
              WHERE s.user_id = $1 AND (s.tx, s.id) > ($2, $3) AND s.tx < $4
              ORDER BY s.tx, s.id LIMIT $5)
         ) c ORDER BY c.tx, c.id LIMIT $5",
    )
    .bind(user_id)
    .bind(after.0)
    .bind(after.1)
    .bind(safe_tx)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Messages by `(conversation, id)` pairs (`conversations[i]` holds
/// `ids[i]`), as the feed shows them: each pair probes its own partition.
pub async fn messages(
    db: impl PgExecutor<'_>,
    conversations: &[Uuid],
    ids: &[Uuid],
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id, m.kind, m.content,
                m.attachment, m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at,
                m.deleted_at, m.mentions, m.mentions_all
           FROM unnest($1::uuid[], $2::uuid[]) AS p(conversation_id, id)
           JOIN messages m ON m.conversation_id = p.conversation_id AND m.id = p.id
           JOIN users u ON u.id = m.sender_id",
    )
    .bind(conversations)
    .bind(ids)
    .fetch_all(db)
    .await
}

/// A receipt as the feed shows it: the reader (TMS id) and the times.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceiptRow {
    pub reader: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn receipt(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    reader: Uuid,
) -> Result<Option<ReceiptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.tms_user_id AS reader, s.delivered_at, s.read_at
           FROM message_status s JOIN users u ON u.id = s.user_id
          WHERE s.conversation_id = $3 AND s.message_id = $1 AND s.user_id = $2",
    )
    .bind(message_id)
    .bind(reader)
    .bind(conversation_id)
    .fetch_optional(db)
    .await
}

/// TMS ids of local users.
pub async fn tms_ids(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, tms_user_id FROM users WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// Deletes up to `batch` rows older than `before`; how many went.
pub async fn prune(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM sync_changes WHERE (conversation_id, id) IN (
            SELECT conversation_id, id FROM sync_changes WHERE created_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
