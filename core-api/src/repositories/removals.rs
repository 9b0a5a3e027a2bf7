//! A conversation's removal epoch: raised with every member removed or
//! leaving, read by the push lanes and by gateways re-checking their sockets.

use sqlx::PgExecutor;
use uuid::Uuid;

/// Removes a member and raises the conversation's removal epoch in one
/// statement; the new epoch, or `None` when the user was not a member. The
/// caller holds the conversation's row lock (`conversations::lock`).
pub async fn remove_member(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "WITH gone AS (
             DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2
             RETURNING conversation_id)
         UPDATE conversations SET removal_epoch = removal_epoch + 1
         WHERE id IN (SELECT conversation_id FROM gone)
         RETURNING removal_epoch",
        conversation_id,
        user_id,
    )
    .fetch_optional(db)
    .await
}

/// The removal epochs of these conversations (absent: no such conversation).
pub async fn epochs(
    db: impl PgExecutor<'_>,
    conversation_ids: &[Uuid],
) -> Result<Vec<(Uuid, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, removal_epoch FROM conversations WHERE id = ANY($1)",
        conversation_ids,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.removal_epoch)).collect())
}

/// The conversation's removal epoch and which of `tms_user_ids` are its
/// members, in one statement (one snapshot); `None` for no such conversation.
pub async fn members_among(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    tms_user_ids: &[String],
) -> Result<Option<(i64, Vec<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT c.removal_epoch,
                  ARRAY(SELECT u.tms_user_id
                        FROM conversation_members cm JOIN users u ON u.id = cm.user_id
                        WHERE cm.conversation_id = c.id AND u.tms_user_id = ANY($2)) AS "members!"
           FROM conversations c WHERE c.id = $1"#,
        conversation_id,
        tms_user_ids,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.removal_epoch, r.members)))
}
