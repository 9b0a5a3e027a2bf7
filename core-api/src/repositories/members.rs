//! A conversation's members in pages and counts, for groups of any size.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::conversation::{DbMemberRole, MemberRow};

/// Up to `limit` members in join order (`joined_at`, then local user id),
/// after the exclusive position `after`.
pub async fn page(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as!(
        MemberRow,
        r#"SELECT cm.user_id, u.tms_user_id, cm.role AS "role: DbMemberRole", cm.joined_at,
                  cm.last_read_seq
           FROM conversation_members cm JOIN users u ON u.id = cm.user_id
           WHERE cm.conversation_id = $1
             AND ($2::timestamptz IS NULL OR (cm.joined_at, cm.user_id) > ($2, $3))
           ORDER BY cm.joined_at, cm.user_id
           LIMIT $4"#,
        conversation_id,
        after.map(|a| a.0),
        after.map(|a| a.1),
        limit,
    )
    .fetch_all(db)
    .await
}

/// How many members the conversation has.
pub async fn count(db: impl PgExecutor<'_>, conversation_id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM conversation_members WHERE conversation_id = $1"#,
        conversation_id
    )
    .fetch_one(db)
    .await
}

/// `(subject, co-member)` for every other user who shares a DM, or a group of
/// at most `max_members` members, with one of `subjects` (TMS ids), each pair
/// once: who hears a subject's presence pushed. A group's size is counted up
/// to `max_members + 1` rows only, so a large group costs no more than a small one.
pub async fn presence_audience(
    db: impl PgExecutor<'_>,
    subjects: &[String],
    max_members: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT su.tms_user_id, ou.tms_user_id
         FROM users su
         JOIN conversation_members sm ON sm.user_id = su.id
         JOIN conversations c ON c.id = sm.conversation_id
         JOIN conversation_members om ON om.conversation_id = sm.conversation_id
                                     AND om.user_id <> su.id
         JOIN users ou ON ou.id = om.user_id
         WHERE su.tms_user_id = ANY($1)
           AND (c.kind = 'direct'
                OR (SELECT count(*) FROM (SELECT 1 FROM conversation_members x
                                           WHERE x.conversation_id = c.id
                                           LIMIT $2 + 1) small) <= $2)",
    )
    .bind(subjects)
    .bind(max_members)
    .fetch_all(db)
    .await
}

/// Every conversation of any of `users` (TMS ids), once each: where users
/// who arrived on a gateway register it (`services::notify_gateways`). One
/// index range per user (`idx_conversation_members_user`).
pub async fn conversations_of(
    db: impl PgExecutor<'_>,
    users: &[String],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT DISTINCT m.conversation_id
         FROM users u
         JOIN conversation_members m ON m.user_id = u.id
         WHERE u.tms_user_id = ANY($1)",
    )
    .bind(users)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
