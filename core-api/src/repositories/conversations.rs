use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::conversation::{ConversationRow, DbConversationKind, DbMemberRole, MemberRow};

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

/// Those of `tms_ids` who are members of the conversation (one index probe each).
pub async fn members_among(
    db: impl PgExecutor<'_>,
    id: Uuid,
    tms_ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT u.tms_user_id FROM users u
           JOIN conversation_members cm ON cm.user_id = u.id AND cm.conversation_id = $1
          WHERE u.tms_user_id = ANY($2)",
    )
    .bind(id)
    .bind(tms_ids)
    .fetch_all(db)
    .await
}

/// The conversation's kind, or `None` when it does not exist.
pub async fn kind(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<DbConversationKind>, sqlx::Error> {
    sqlx::query_scalar("SELECT kind FROM conversations WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
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
