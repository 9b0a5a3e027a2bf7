use chrono::{DateTime, Utc};
use shared_types::limits::DETAIL_MEMBERS;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::conversation::{
    ConversationRow, DbConversationKind, DbMemberRole, MemberRow, SummaryRow,
};

pub async fn insert_group(
    conn: &mut PgConnection,
    title: &str,
    created_by: Uuid,
) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO conversations (kind, title, created_by) VALUES ('group', $1, $2) RETURNING id",
        title,
        created_by,
    )
    .fetch_one(conn)
    .await
}

/// `None` when the direct conversation for this pair already exists.
pub async fn insert_direct(
    conn: &mut PgConnection,
    direct_key: &str,
    created_by: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO conversations (kind, created_by, direct_key) VALUES ('direct', $1, $2)
         ON CONFLICT ON CONSTRAINT conversations_direct_key_key DO NOTHING
         RETURNING id",
        created_by,
        direct_key,
    )
    .fetch_optional(conn)
    .await
}

pub async fn find_direct(
    db: impl PgExecutor<'_>,
    direct_key: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM conversations WHERE direct_key = $1",
        direct_key
    )
    .fetch_optional(db)
    .await
}

/// Adds members, skipping those already in; returns the local ids actually added.
pub async fn add_members(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    user_ids: &[Uuid],
    role: DbMemberRole,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO conversation_members (conversation_id, user_id, role)
         SELECT $1, unnest($2::uuid[]), $3
         ON CONFLICT DO NOTHING
         RETURNING user_id"#,
        conversation_id,
        user_ids,
        role as _,
    )
    .fetch_all(conn)
    .await
}

pub async fn get(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as!(
        ConversationRow,
        r#"SELECT c.id, c.kind AS "kind: DbConversationKind", c.title,
                  u.tms_user_id AS created_by, c.last_seq, c.created_at, c.updated_at,
                  c.last_message_at
           FROM conversations c JOIN users u ON u.id = c.created_by
           WHERE c.id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Locks the conversation row until the transaction ends; its kind, or `None`.
pub async fn lock(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<DbConversationKind>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT kind AS "kind: DbConversationKind" FROM conversations WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn members(db: impl PgExecutor<'_>, id: Uuid) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"SELECT cm.user_id, u.tms_user_id, cm.role AS "role: DbMemberRole", cm.joined_at,
                  cm.last_read_seq
           FROM conversation_members cm JOIN users u ON u.id = cm.user_id
           WHERE cm.conversation_id = $1 ORDER BY cm.joined_at, u.tms_user_id"#,
        id
    )
    .fetch_all(db)
    .await
}

pub async fn member(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"SELECT cm.user_id, u.tms_user_id, cm.role AS "role: DbMemberRole", cm.joined_at,
                  cm.last_read_seq
           FROM conversation_members cm JOIN users u ON u.id = cm.user_id
           WHERE cm.conversation_id = $1 AND cm.user_id = $2"#,
        conversation_id,
        user_id,
    )
    .fetch_optional(db)
    .await
}

pub async fn member_tms_ids(db: impl PgExecutor<'_>, id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT u.tms_user_id FROM conversation_members cm JOIN users u ON u.id = cm.user_id
         WHERE cm.conversation_id = $1",
        id
    )
    .fetch_all(db)
    .await
}

pub async fn exists(db: impl PgExecutor<'_>, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM conversations WHERE id = $1) AS "exists!""#,
        id
    )
    .fetch_one(db)
    .await
}

pub async fn update_title(
    db: impl PgExecutor<'_>,
    id: Uuid,
    title: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE conversations SET title = $2, updated_at = now() WHERE id = $1",
        id,
        title,
    )
    .execute(db)
    .await
    .map(drop)
}

pub async fn touch(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE conversations SET updated_at = now() WHERE id = $1",
        id
    )
    .execute(db)
    .await
    .map(drop)
}

pub async fn remove_member(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
        conversation_id,
        user_id,
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_role(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
    role: DbMemberRole,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE conversation_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
        conversation_id,
        user_id,
        role as _,
    )
    .execute(db)
    .await
    .map(drop)
}

/// The longest-standing remaining member, preferring admins: the next owner.
pub async fn successor(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT user_id FROM conversation_members WHERE conversation_id = $1
         ORDER BY (role = 'admin') DESC, joined_at, user_id LIMIT 1",
        conversation_id
    )
    .fetch_optional(db)
    .await
}

/// One page of the user's conversations, most recent activity first, each
/// with its first `DETAIL_MEMBERS` member ids and its member count.
/// `after` is the exclusive `(activity_at, id)` cursor of the previous page.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SummaryRow>, sqlx::Error> {
    // a runtime query: its row flattens the last message's columns, which the
    // checked macros cannot map
    sqlx::query_as(
        "SELECT c.id, c.kind, c.title, c.last_seq, c.updated_at, c.last_message_at,
                COALESCE(c.last_message_at, c.created_at) AS activity_at,
                (SELECT count(*) FROM messages m
                  WHERE m.conversation_id = c.id AND m.seq > cm.last_read_seq
                    AND m.sender_id <> cm.user_id AND m.deleted_at IS NULL) AS unread_count,
                ARRAY(SELECT u.tms_user_id FROM conversation_members m2 JOIN users u ON u.id = m2.user_id
                       WHERE m2.conversation_id = c.id ORDER BY m2.joined_at, m2.user_id
                       LIMIT $5) AS member_ids,
                (SELECT count(*) FROM conversation_members m3
                  WHERE m3.conversation_id = c.id) AS member_count,
                lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.kind AS lm_kind,
                lm.content AS lm_content, lm.attachment AS lm_attachment,
                lm.reply_to_id AS lm_reply_to_id, lm.client_msg_id AS lm_client_msg_id,
                lm.created_at AS lm_created_at, lm.edited_at AS lm_edited_at,
                lm.deleted_at AS lm_deleted_at
           FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
           -- the last message, one index probe per conversation; columns only:
           -- `models::message` maps them to the wire `Message`
           LEFT JOIN LATERAL (
                SELECT m.id, m.seq, u.tms_user_id AS sender_id, m.kind, m.content, m.attachment,
                       m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at
                  FROM messages m JOIN users u ON u.id = m.sender_id
                 WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1) lm ON true
          WHERE cm.user_id = $1
            AND ($2::timestamptz IS NULL OR (COALESCE(c.last_message_at, c.created_at), c.id) < ($2, $3))
          ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC
          LIMIT $4",
    )
    .bind(user_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .bind(DETAIL_MEMBERS as i64)
    .fetch_all(db)
    .await
}

/// `(subject, co-member)` for every other user who shares a conversation with
/// one of `subjects` (TMS ids), each pair once.
pub async fn co_members(
    db: impl PgExecutor<'_>,
    subjects: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT su.tms_user_id, ou.tms_user_id
         FROM users su
         JOIN conversation_members sm ON sm.user_id = su.id
         JOIN conversation_members om ON om.conversation_id = sm.conversation_id
                                     AND om.user_id <> su.id
         JOIN users ou ON ou.id = om.user_id
         WHERE su.tms_user_id = ANY($1)",
    )
    .bind(subjects)
    .fetch_all(db)
    .await
}
