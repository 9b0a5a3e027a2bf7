//! A member's settings of a conversation (columns of `conversation_members`).

use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::settings::{SettingsChange, SettingsRow};

pub async fn get(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT conversation_id, notification_level, muted_until, pinned, archived
           FROM conversation_members WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Applies `change`; `None` when the user is not (or no longer) a member.
pub async fn update(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    user_id: Uuid,
    change: &SettingsChange,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE conversation_members
            SET notification_level = COALESCE($3, notification_level),
                muted_until = CASE WHEN $4 THEN $5 ELSE muted_until END,
                pinned = COALESCE($6, pinned),
                archived = COALESCE($7, archived)
          WHERE conversation_id = $1 AND user_id = $2
      RETURNING conversation_id, notification_level, muted_until, pinned, archived",
    )
    .bind(conversation_id)
    .bind(user_id)
    .bind(change.notification_level)
    .bind(change.muted_until.is_some())
    .bind(change.muted_until.flatten())
    .bind(change.pinned)
    .bind(change.archived)
    .fetch_optional(db)
    .await
}
