//! Full-text message search over `messages.search_tsv` (GIN, `simple`).

use sqlx::PgExecutor;

use crate::models::search::{SearchFilter, SearchRow};

/// One page of the live messages of the user's conversations (membership as
/// of now) that match `filter.tsquery`, newest first. The snippet is built
/// from the HTML-escaped content, only for the rows of the page; the parser
/// reads `&amp;` and its kin as entities, which are never highlighted, so
/// the escaping survives.
pub async fn messages(
    db: impl PgExecutor<'_>,
    filter: &SearchFilter,
) -> Result<Vec<SearchRow>, sqlx::Error> {
    // a runtime query: optional filters bound as NULL, a FromRow target. The
    // tsquery is written out where it is used, not in a CTE: the planner then
    // sees its value and can tell a frequent word from a rare one. The
    // caller's conversations are an array, not a join: a bitmap of their
    // messages can then be ANDed with the GIN bitmap of the word
    sqlx::query_as(
        r#"WITH hits AS (
            SELECT m.id, m.conversation_id, m.seq, m.sender_id AS sender_uuid, m.kind, m.content,
                   m.attachment, m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at,
                   m.deleted_at, m.mentions, m.mentions_all
              FROM messages m
             WHERE m.conversation_id = ANY(ARRAY(SELECT cm.conversation_id
                                                   FROM conversation_members cm
                                                  WHERE cm.user_id = $1))
               AND ($3::uuid IS NULL OR m.conversation_id = $3)
               AND m.deleted_at IS NULL
               AND m.search_tsv @@ to_tsquery('simple'::regconfig, $2)
               AND ($4::text IS NULL
                    OR m.sender_id = (SELECT u.id FROM users u WHERE u.tms_user_id = $4))
               AND ($5::timestamptz IS NULL OR m.created_at < $5)
               AND ($6::timestamptz IS NULL OR m.created_at > $6)
               AND ($7::timestamptz IS NULL OR (m.created_at, m.id) < ($7, $8::uuid))
             ORDER BY m.created_at DESC, m.id DESC
             LIMIT $9
        )
        SELECT h.id, h.conversation_id, h.seq, u.tms_user_id AS sender_id, h.kind, h.content,
               h.attachment, h.reply_to_id, h.client_msg_id, h.created_at, h.edited_at,
               h.deleted_at, h.mentions, h.mentions_all,
               ts_headline('simple'::regconfig,
                   replace(replace(replace(replace(replace(COALESCE(h.content, ''),
                       '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
                   to_tsquery('simple'::regconfig, $2),
                   'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=12, ShortWord=0, MaxFragments=2, FragmentDelimiter=" … "')
                   AS snippet
          FROM hits h JOIN users u ON u.id = h.sender_uuid
         ORDER BY h.created_at DESC, h.id DESC"#,
    )
    .bind(filter.user_id)
    .bind(&filter.tsquery)
    .bind(filter.conversation_id)
    .bind(filter.sender_id.as_deref())
    .bind(filter.before)
    .bind(filter.after)
    .bind(filter.cursor.map(|c| c.0))
    .bind(filter.cursor.map(|c| c.1))
    .bind(filter.limit)
    // planned with its values, not as a cached generic plan: the best plan
    // depends on the word (a frequent one walks idx_messages_created, a rare
    // one takes the GIN index)
    .persistent(false)
    .fetch_all(db)
    .await
}
