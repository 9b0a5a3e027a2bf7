use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use shared_types::api::Attachment;

use crate::models::message::{DbMessageKind, MessageRow};

/// The sender's message with this `client_msg_id` in the conversation.
pub async fn find_by_client_msg_id(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    sender_id: Uuid,
    client_msg_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id,
                  m.kind AS "kind: DbMessageKind", m.content,
                  m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
                  m.created_at, m.edited_at, m.deleted_at, m.mentions, m.mentions_all
           FROM messages m JOIN users u ON u.id = m.sender_id
           WHERE m.conversation_id = $1 AND m.sender_id = $2 AND m.client_msg_id = $3"#,
        conversation_id,
        sender_id,
        client_msg_id,
    )
    .fetch_optional(db)
    .await
}

/// By id alone, for the routes that name only the message: one index probe
/// in each partition (`idx_messages_id`). Everything after names the
/// conversation the row gives.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id,
                  m.kind AS "kind: DbMessageKind", m.content,
                  m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
                  m.created_at, m.edited_at, m.deleted_at, m.mentions, m.mentions_all
           FROM messages m JOIN users u ON u.id = m.sender_id
           WHERE m.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// The message in its conversation (one partition).
pub async fn get_in(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id,
                  m.kind AS "kind: DbMessageKind", m.content,
                  m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
                  m.created_at, m.edited_at, m.deleted_at, m.mentions, m.mentions_all
           FROM messages m JOIN users u ON u.id = m.sender_id
           WHERE m.conversation_id = $1 AND m.id = $2"#,
        conversation_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// Whether the message exists in this conversation.
pub async fn exists_in(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND id = $2) AS "e!""#,
        conversation_id,
        id
    )
    .fetch_one(db)
    .await
}

/// Newest first, strictly below `before_seq` when given.
pub async fn list_before(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id,
                  m.kind AS "kind: DbMessageKind", m.content,
                  m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
                  m.created_at, m.edited_at, m.deleted_at, m.mentions, m.mentions_all
           FROM messages m JOIN users u ON u.id = m.sender_id
           WHERE m.conversation_id = $1 AND ($2::bigint IS NULL OR m.seq < $2)
           ORDER BY m.seq DESC LIMIT $3"#,
        conversation_id,
        before_seq,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Oldest first, strictly above `after_seq`: the catch-up read.
pub async fn list_after(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as!(
        MessageRow,
        r#"SELECT m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id,
                  m.kind AS "kind: DbMessageKind", m.content,
                  m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
                  m.created_at, m.edited_at, m.deleted_at, m.mentions, m.mentions_all
           FROM messages m JOIN users u ON u.id = m.sender_id
           WHERE m.conversation_id = $1 AND m.seq > $2
           ORDER BY m.seq ASC LIMIT $3"#,
        conversation_id,
        after_seq,
        limit,
    )
    .fetch_all(db)
    .await
}

/// False when the message is (by now) deleted and nothing changed.
pub async fn edit(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    id: Uuid,
    content: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE messages SET content = $3, edited_at = now()
         WHERE conversation_id = $1 AND id = $2 AND deleted_at IS NULL",
        conversation_id,
        id,
        content,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Soft delete: the row stays as a tombstone so catch-up tells clients to drop
/// it. False when it was already deleted.
pub async fn soft_delete(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE messages SET content = NULL, attachment = NULL, deleted_at = now()
         WHERE conversation_id = $1 AND id = $2 AND deleted_at IS NULL",
        conversation_id,
        id
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the member's read mark forward, never back.
pub async fn advance_read(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $3)
         WHERE conversation_id = $1 AND user_id = $2",
        conversation_id,
        user_id,
        seq,
    )
    .execute(db)
    .await
    .map(drop)
}
