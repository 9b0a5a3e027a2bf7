//! Read marks: a member's `last_read_seq`, the receipts a "read up to here"
//! covers, and unread counts (the same count as the conversation list's).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The member's read mark and the conversation's last seq, the member's row
/// locked until the transaction ends; `None` for a non-member.
pub async fn lock_mark(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT cm.last_read_seq, c.last_seq
           FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
          WHERE cm.conversation_id = $1 AND cm.user_id = $2
            FOR UPDATE OF cm",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// A receipt that a read range newly set: the message, its sender (TMS id)
/// and the times.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewlyRead {
    pub message_id: Uuid,
    pub sender_id: String,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Moves the member's read mark from `from` up to `to` and marks every
/// message of others in `(from, to]` read (and delivered), in one statement.
/// Returns the receipts it set (messages read before are left as they were).
pub async fn mark_range(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
    from: i64,
    to: i64,
) -> Result<Vec<NewlyRead>, sqlx::Error> {
    sqlx::query_as(
        "WITH moved AS (
            UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $4)
             WHERE conversation_id = $1 AND user_id = $2
        ),
        covered AS (
            SELECT m.id, m.sender_id FROM messages m
             WHERE m.conversation_id = $1 AND m.seq > $3 AND m.seq <= $4
               AND m.sender_id <> $2 AND m.deleted_at IS NULL
        ),
        marked AS (
            INSERT INTO message_status (conversation_id, message_id, user_id, delivered_at, read_at)
            SELECT $1, id, $2, now(), now() FROM covered
            ON CONFLICT (conversation_id, message_id, user_id) DO UPDATE
               SET delivered_at = COALESCE(message_status.delivered_at, EXCLUDED.delivered_at),
                   read_at = EXCLUDED.read_at
             WHERE message_status.read_at IS NULL
            RETURNING message_id, delivered_at, read_at
        )
        SELECT marked.message_id, u.tms_user_id AS sender_id,
               marked.delivered_at, marked.read_at
          FROM marked JOIN covered ON covered.id = marked.message_id
          JOIN users u ON u.id = covered.sender_id",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// The member's read mark and unread count; `None` for a non-member.
pub async fn state(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT cm.last_read_seq,
                (SELECT count(*) FROM messages m
                  WHERE m.conversation_id = cm.conversation_id AND m.seq > cm.last_read_seq
                    AND m.sender_id <> cm.user_id AND m.deleted_at IS NULL) AS unread
           FROM conversation_members cm
          WHERE cm.conversation_id = $1 AND cm.user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The user's conversations with messages above their read mark, and the
/// last seq of each.
pub async fn behind(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT cm.conversation_id, c.last_seq
           FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
          WHERE cm.user_id = $1 AND c.last_seq > cm.last_read_seq
          ORDER BY cm.conversation_id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
