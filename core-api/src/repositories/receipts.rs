use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Records delivery (and, with `read`, reading) of one message by one user.
/// Marks only move forward: a second mark keeps the first time.
pub async fn mark(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    user_id: Uuid,
    read: bool,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), sqlx::Error> {
    let row = sqlx::query!(
        "INSERT INTO message_status (conversation_id, message_id, user_id, delivered_at, read_at)
         VALUES ($1, $2, $3, now(), CASE WHEN $4 THEN now() END)
         ON CONFLICT (conversation_id, message_id, user_id) DO UPDATE SET
            delivered_at = COALESCE(message_status.delivered_at, EXCLUDED.delivered_at),
            read_at = COALESCE(message_status.read_at, EXCLUDED.read_at)
         RETURNING delivered_at, read_at",
        conversation_id,
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
           LEFT JOIN message_status s
                  ON s.conversation_id = $2 AND s.message_id = $1 AND s.user_id = cm.user_id
          WHERE cm.conversation_id = $2 AND cm.user_id <> $3
          ORDER BY u.tms_user_id",
        message_id,
        conversation_id,
        sender_id,
    )
    .fetch_all(db)
    .await
}

/// One receipt of a batch.
#[derive(Debug, Clone)]
pub struct NewReceipt {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub user_id: Uuid,
    /// Read (and delivered); false: delivered only.
    pub read: bool,
    /// The message's `seq`: a read moves the reader's `last_read_seq` to it.
    pub seq: i64,
}

/// Locks the readers' member rows in one fixed order (by conversation, then
/// user), as a batch of sends does: batches of receipts and of sends that
/// share members wait for each other instead of deadlocking. Run it in the
/// batch's transaction, before `mark_batch`.
pub async fn lock_readers(
    db: impl PgExecutor<'_>,
    receipts: &[NewReceipt],
) -> Result<(), sqlx::Error> {
    let conversations: Vec<Uuid> = receipts.iter().map(|r| r.conversation_id).collect();
    let users: Vec<Uuid> = receipts.iter().map(|r| r.user_id).collect();
    sqlx::query!(
        r#"SELECT cm.user_id FROM conversation_members cm
            WHERE (cm.conversation_id, cm.user_id) IN
                  (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
            ORDER BY cm.conversation_id, cm.user_id
            FOR NO KEY UPDATE"#,
        &conversations,
        &users,
    )
    .fetch_all(db)
    .await
    .map(drop)
}

/// `mark` for many receipts in one statement: the marks, then each reader's
/// `last_read_seq` moved to the highest message read. One answer per
/// receipt, in order: `(delivered_at, read_at)` after the marks. Each
/// `(conversation_id, message_id, user_id)` may appear once (callers merge
/// repeats: a row cannot be updated twice by one statement).
pub async fn mark_batch(
    db: impl PgExecutor<'_>,
    receipts: &[NewReceipt],
) -> Result<Vec<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)>, sqlx::Error> {
    let conversations: Vec<Uuid> = receipts.iter().map(|r| r.conversation_id).collect();
    let messages: Vec<Uuid> = receipts.iter().map(|r| r.message_id).collect();
    let users: Vec<Uuid> = receipts.iter().map(|r| r.user_id).collect();
    let reads: Vec<bool> = receipts.iter().map(|r| r.read).collect();
    let seqs: Vec<i64> = receipts.iter().map(|r| r.seq).collect();
    let rows = sqlx::query!(
        r#"WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[], $5::bigint[])
                WITH ORDINALITY AS t(conversation_id, message_id, user_id, read, seq, ord)
        ),
        marked AS (
            INSERT INTO message_status (conversation_id, message_id, user_id, delivered_at, read_at)
            SELECT conversation_id, message_id, user_id, now(), CASE WHEN read THEN now() END
              FROM input ORDER BY conversation_id, message_id, user_id
            ON CONFLICT (conversation_id, message_id, user_id) DO UPDATE SET
               delivered_at = COALESCE(message_status.delivered_at, EXCLUDED.delivered_at),
               read_at = COALESCE(message_status.read_at, EXCLUDED.read_at)
            RETURNING conversation_id, message_id, user_id, delivered_at, read_at
        ),
        reads AS (
            UPDATE conversation_members cm SET last_read_seq = GREATEST(cm.last_read_seq, r.seq)
              FROM (SELECT conversation_id, user_id, max(seq) AS seq FROM input
                     WHERE read GROUP BY conversation_id, user_id) r
             WHERE cm.conversation_id = r.conversation_id AND cm.user_id = r.user_id
        )
        SELECT i.ord AS "ord!", m.delivered_at, m.read_at
          FROM input i JOIN marked m ON m.conversation_id = i.conversation_id
                                    AND m.message_id = i.message_id AND m.user_id = i.user_id
         ORDER BY i.ord"#,
        &conversations,
        &messages,
        &users,
        &reads,
        &seqs,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.delivered_at, r.read_at))
        .collect())
}
