//! "My conversations": one page of the caller's conversation list, with
//! their unread counts, last message and the caller's settings of each.

use chrono::{DateTime, Utc};
use shared_types::limits::DETAIL_MEMBERS;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::models::conversation::SummaryRow;

/// One page of the user's conversations: pinned first, then most recent
/// activity first; archived ones only `with_archived`. Each carries its
/// first `DETAIL_MEMBERS` member ids and its member count. `after` is the
/// exclusive `(pinned, activity_at, id)` cursor of the previous page.
pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    with_archived: bool,
    after: Option<(bool, DateTime<Utc>, Uuid)>,
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
                (SELECT count(*) FROM messages m
                  WHERE m.conversation_id = c.id AND m.seq > cm.last_read_seq
                    AND m.sender_id <> cm.user_id AND m.deleted_at IS NULL
                    AND (m.mentions_all OR me.tms_user_id = ANY(m.mentions))) AS unread_mention_count,
                ARRAY(SELECT u.tms_user_id FROM conversation_members m2 JOIN users u ON u.id = m2.user_id
                       WHERE m2.conversation_id = c.id ORDER BY m2.joined_at, m2.user_id
                       LIMIT $7) AS member_ids,
                (SELECT count(*) FROM conversation_members m3
                  WHERE m3.conversation_id = c.id) AS member_count,
                cm.pinned, cm.archived, cm.notification_level, cm.muted_until,
                lm.id AS lm_id, lm.seq AS lm_seq, lm.sender_id AS lm_sender_id, lm.kind AS lm_kind,
                lm.content AS lm_content, lm.attachment AS lm_attachment,
                lm.reply_to_id AS lm_reply_to_id, lm.client_msg_id AS lm_client_msg_id,
                lm.created_at AS lm_created_at, lm.edited_at AS lm_edited_at,
                lm.deleted_at AS lm_deleted_at, lm.mentions AS lm_mentions,
                lm.mentions_all AS lm_mentions_all
           FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
           JOIN users me ON me.id = cm.user_id
           -- the last message, one index probe per conversation; columns only:
           -- `models::message` maps them to the wire `Message`
           LEFT JOIN LATERAL (
                SELECT m.id, m.seq, u.tms_user_id AS sender_id, m.kind, m.content, m.attachment,
                       m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at,
                       m.mentions, m.mentions_all
                  FROM messages m JOIN users u ON u.id = m.sender_id
                 WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1) lm ON true
          WHERE cm.user_id = $1
            AND ($5 OR NOT cm.archived)
            AND ($2::timestamptz IS NULL
                 OR (cm.pinned::int, COALESCE(c.last_message_at, c.created_at), c.id)
                    < ($6::int, $2, $3))
          ORDER BY cm.pinned DESC, COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC
          LIMIT $4",
    )
    .bind(user_id)
    .bind(after.map(|a| a.1))
    .bind(after.map(|a| a.2))
    .bind(limit)
    .bind(with_archived)
    .bind(after.map(|a| i32::from(a.0)))
    .bind(DETAIL_MEMBERS as i64)
    .fetch_all(db)
    .await
}
