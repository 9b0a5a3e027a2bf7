use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use shared_types::api::Attachment;

use crate::models::message::MessageRow;

const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.seq, u.tms_user_id AS sender_id, m.kind,
    m.content, m.attachment, m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at";

pub struct NewMessage<'a> {
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub kind: &'static str,
    pub content: Option<&'a str>,
    pub attachment: Option<&'a Attachment>,
    pub reply_to_id: Option<Uuid>,
    pub client_msg_id: Option<&'a str>,
}

pub async fn find_by_client_msg_id(
    db: impl PgExecutor<'_>,
    sender_id: Uuid,
    client_msg_id: &str,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.sender_id = $1 AND m.client_msg_id = $2"
    ))
    .bind(sender_id)
    .bind(client_msg_id)
    .fetch_optional(db)
    .await
}

/// Takes the next `seq` of the conversation. The row lock it takes is held
/// until the transaction ends, so concurrent senders get consecutive numbers
/// and a rollback leaves no gap.
pub async fn next_seq(conn: &mut PgConnection, conversation_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now(), updated_at = now()
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .fetch_one(conn)
    .await
}

/// `None` when `(sender_id, client_msg_id)` already exists (a concurrent retry).
pub async fn insert(
    conn: &mut PgConnection,
    seq: i64,
    new: &NewMessage<'_>,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH m AS (
            INSERT INTO messages (conversation_id, seq, sender_id, kind, content, attachment, reply_to_id, client_msg_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT ON CONSTRAINT messages_sender_client_msg_id_key DO NOTHING
            RETURNING *)
         SELECT {MESSAGE_COLUMNS} FROM m JOIN users u ON u.id = m.sender_id"
    ))
    .bind(new.conversation_id)
    .bind(seq)
    .bind(new.sender_id)
    .bind(new.kind)
    .bind(new.content)
    .bind(new.attachment.map(Json))
    .bind(new.reply_to_id)
    .bind(new.client_msg_id)
    .fetch_optional(conn)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The conversation a message belongs to, if the message exists.
pub async fn conversation_of(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT conversation_id FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Newest first, strictly below `before_seq` when given.
pub async fn list_before(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.conversation_id = $1 AND ($2::bigint IS NULL OR m.seq < $2)
         ORDER BY m.seq DESC LIMIT $3"
    ))
    .bind(conversation_id)
    .bind(before_seq)
    .bind(limit)
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
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id
         WHERE m.conversation_id = $1 AND m.seq > $2
         ORDER BY m.seq ASC LIMIT $3"
    ))
    .bind(conversation_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// False when the message is (by now) deleted and nothing changed.
pub async fn edit(db: impl PgExecutor<'_>, id: Uuid, content: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE messages SET content = $2, edited_at = now() WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(content)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Soft delete: the row stays as a tombstone so catch-up tells clients to drop
/// it. False when it was already deleted.
pub async fn soft_delete(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE messages SET content = NULL, attachment = NULL, deleted_at = now()
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
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
    sqlx::query(
        "UPDATE conversation_members SET last_read_seq = GREATEST(last_read_seq, $3)
         WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(seq)
    .execute(db)
    .await
    .map(drop)
}
