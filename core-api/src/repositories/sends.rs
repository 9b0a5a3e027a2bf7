//! The send statement: takes the next `seq`s, inserts the messages and moves
//! each sender's read mark, all in one statement (one round trip, one
//! transaction), for one message or a whole batch.

use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use shared_types::api::Attachment;

use crate::models::message::{DbMessageKind, MessageRow};

#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Chosen by the caller, so that a batch maps inserted rows back to its sends.
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub kind: DbMessageKind,
    pub content: Option<String>,
    pub attachment: Option<Attachment>,
    pub reply_to_id: Option<Uuid>,
    pub client_msg_id: Option<String>,
    /// TMS ids of mentioned members (already checked to be members).
    pub mentions: Vec<String>,
    pub mentions_all: bool,
}

#[derive(Debug)]
pub struct Stored {
    /// Index of the send in the slice given to `insert`.
    pub index: usize,
    /// False: `(conversation_id, sender_id, client_msg_id)` existed; `message` is the original.
    pub created: bool,
    pub message: MessageRow,
}

/// Stores `new` in one statement. A send whose `(conversation_id, sender_id, client_msg_id)`
/// already exists takes no `seq` and comes back as the original; a send whose
/// sender is not (or no longer) a member of the conversation, or to a
/// conversation that does not exist, comes back not at all. Sends of one
/// conversation get consecutive `seq`s in slice order. The conversation row
/// lock taken by the update is held until the statement commits, so
/// concurrent statements number after each other, and any error rolls back
/// every `seq` taken: no gaps.
///
/// Two sends in `new` with the same `(conversation_id, sender_id, client_msg_id)`, or one that
/// a concurrent transaction has inserted meanwhile, fail the whole statement
/// with a unique violation: callers dedupe first and retry one by one.
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &[NewMessage],
) -> Result<Vec<Stored>, sqlx::Error> {
    let ids: Vec<Uuid> = new.iter().map(|n| n.id).collect();
    let conversations: Vec<Uuid> = new.iter().map(|n| n.conversation_id).collect();
    let senders: Vec<Uuid> = new.iter().map(|n| n.sender_id).collect();
    let kinds: Vec<DbMessageKind> = new.iter().map(|n| n.kind).collect();
    let contents: Vec<Option<&str>> = new.iter().map(|n| n.content.as_deref()).collect();
    let attachments: Vec<Option<Json<&Attachment>>> = new
        .iter()
        .map(|n| n.attachment.as_ref().map(Json))
        .collect();
    let replies: Vec<Option<Uuid>> = new.iter().map(|n| n.reply_to_id).collect();
    let client_ids: Vec<Option<&str>> = new.iter().map(|n| n.client_msg_id.as_deref()).collect();
    // arrays of arrays must be rectangular in Postgres: each send's mentions travel as JSON
    let mentions: Vec<Json<&Vec<String>>> = new.iter().map(|n| Json(&n.mentions)).collect();
    let mentions_all: Vec<bool> = new.iter().map(|n| n.mentions_all).collect();
    let rows = sqlx::query_as!(
        StoredRow,
        r#"WITH input AS (
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                                 $6::jsonb[], $7::uuid[], $8::text[], $9::jsonb[], $10::bool[])
                WITH ORDINALITY AS t(id, conversation_id, sender_id, kind, content, attachment,
                                     reply_to_id, client_msg_id, mentions, mentions_all, ord)
        ),
        member AS (
            SELECT i.* FROM input i
            WHERE EXISTS (SELECT 1 FROM conversation_members cm
                           WHERE cm.conversation_id = i.conversation_id AND cm.user_id = i.sender_id)
        ),
        prior AS (
            SELECT i.ord, m.conversation_id, m.id FROM member i
            JOIN messages m ON m.conversation_id = i.conversation_id
                           AND m.sender_id = i.sender_id AND m.client_msg_id = i.client_msg_id
        ),
        fresh AS (
            SELECT i.*, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord) AS rn,
                   count(*) OVER (PARTITION BY i.conversation_id) AS n
            FROM member i WHERE i.ord NOT IN (SELECT ord FROM prior)
        ),
        conv AS (
            UPDATE conversations c
               SET last_seq = c.last_seq + f.n, last_message_at = now(), updated_at = now()
              FROM (SELECT DISTINCT conversation_id, n FROM fresh) f
             WHERE c.id = f.conversation_id
            RETURNING c.id, c.last_seq
        ),
        ins AS (
            INSERT INTO messages (id, conversation_id, seq, sender_id, kind, content, attachment,
                                  reply_to_id, client_msg_id, mentions, mentions_all)
            SELECT f.id, f.conversation_id, conv.last_seq - f.n + f.rn, f.sender_id, f.kind,
                   f.content, f.attachment, f.reply_to_id, f.client_msg_id,
                   ARRAY(SELECT jsonb_array_elements_text(f.mentions)), f.mentions_all
              FROM fresh f JOIN conv ON conv.id = f.conversation_id
            RETURNING *
        ),
        reads AS (
            -- sending implies having read everything up to it
            UPDATE conversation_members cm SET last_read_seq = GREATEST(cm.last_read_seq, r.seq)
              FROM (SELECT conversation_id, sender_id, max(seq) AS seq
                      FROM ins GROUP BY conversation_id, sender_id) r
             WHERE cm.conversation_id = r.conversation_id AND cm.user_id = r.sender_id
        )
        SELECT f.ord AS "ord!", true AS "created!", m.id AS "id!",
               m.conversation_id AS "conversation_id!", m.seq AS "seq!",
               u.tms_user_id AS "sender_id!", m.kind AS "kind!: DbMessageKind", m.content,
               m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
               m.created_at AS "created_at!", m.edited_at, m.deleted_at,
               m.mentions AS "mentions!", m.mentions_all AS "mentions_all!"
          FROM ins m JOIN fresh f ON f.id = m.id JOIN users u ON u.id = m.sender_id
        UNION ALL
        SELECT p.ord, false, m.id, m.conversation_id, m.seq, u.tms_user_id, m.kind, m.content,
               m.attachment, m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at,
               m.deleted_at, m.mentions, m.mentions_all
          FROM prior p JOIN messages m ON m.conversation_id = p.conversation_id AND m.id = p.id
          JOIN users u ON u.id = m.sender_id"#,
        &ids,
        &conversations,
        &senders,
        &kinds as _,
        &contents as _,
        &attachments as _,
        &replies as _,
        &client_ids as _,
        &mentions as _,
        &mentions_all,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Stored::from).collect())
}

/// Locks, in one fixed order, the rows a batch of sends will update: each
/// conversation, then its senders' member rows, conversations by id and
/// members by user. Two batches (in one replica or two) that share
/// conversations then wait for each other instead of deadlocking, and so
/// does a batch of receipts, which locks member rows in the same order.
/// Run it in the batch's transaction, before `insert`.
pub async fn lock_in_order(db: impl PgExecutor<'_>, new: &[NewMessage]) -> Result<(), sqlx::Error> {
    let conversations: Vec<Uuid> = new.iter().map(|n| n.conversation_id).collect();
    let senders: Vec<Uuid> = new.iter().map(|n| n.sender_id).collect();
    sqlx::query!(
        r#"SELECT c.id FROM conversations c
             JOIN conversation_members cm ON cm.conversation_id = c.id
            WHERE (cm.conversation_id, cm.user_id) IN
                  (SELECT * FROM unnest($1::uuid[], $2::uuid[]))
            ORDER BY c.id, cm.user_id
            FOR NO KEY UPDATE OF c, cm"#,
        &conversations,
        &senders,
    )
    .fetch_all(db)
    .await
    .map(drop)
}

/// `insert` for one send, in a statement that is cheaper to run (no arrays,
/// no numbering): each send that commits alone runs this.
pub async fn insert_one(
    db: impl PgExecutor<'_>,
    new: &NewMessage,
) -> Result<Option<Stored>, sqlx::Error> {
    let row = sqlx::query_as!(
        StoredRow,
        r#"WITH member AS (
            SELECT EXISTS (SELECT 1 FROM conversation_members
                            WHERE conversation_id = $2 AND user_id = $3) AS ok
        ),
        prior AS (
            SELECT m.id FROM messages m, member
             WHERE member.ok AND m.conversation_id = $2 AND m.sender_id = $3
               AND m.client_msg_id = $8
        ),
        conv AS (
            UPDATE conversations SET last_seq = last_seq + 1, last_message_at = now(), updated_at = now()
             WHERE id = $2 AND (SELECT ok FROM member) AND NOT EXISTS (SELECT 1 FROM prior)
            RETURNING last_seq
        ),
        ins AS (
            INSERT INTO messages (id, conversation_id, seq, sender_id, kind, content, attachment,
                                  reply_to_id, client_msg_id, mentions, mentions_all)
            SELECT $1, $2, conv.last_seq, $3, $4, $5, $6, $7, $8, $9, $10 FROM conv
            RETURNING *
        ),
        reads AS (
            UPDATE conversation_members cm SET last_read_seq = GREATEST(cm.last_read_seq, ins.seq)
              FROM ins WHERE cm.conversation_id = $2 AND cm.user_id = $3
        )
        SELECT 1::bigint AS "ord!", true AS "created!", m.id AS "id!",
               m.conversation_id AS "conversation_id!", m.seq AS "seq!",
               u.tms_user_id AS "sender_id!", m.kind AS "kind!: DbMessageKind", m.content,
               m.attachment AS "attachment: Json<Attachment>", m.reply_to_id, m.client_msg_id,
               m.created_at AS "created_at!", m.edited_at, m.deleted_at,
               m.mentions AS "mentions!", m.mentions_all AS "mentions_all!"
          FROM ins m JOIN users u ON u.id = m.sender_id
        UNION ALL
        SELECT 1, false, m.id, m.conversation_id, m.seq, u.tms_user_id, m.kind, m.content,
               m.attachment, m.reply_to_id, m.client_msg_id, m.created_at, m.edited_at,
               m.deleted_at, m.mentions, m.mentions_all
          FROM prior p JOIN messages m ON m.conversation_id = $2 AND m.id = p.id
          JOIN users u ON u.id = m.sender_id"#,
        new.id,
        new.conversation_id,
        new.sender_id,
        new.kind as _,
        new.content.as_deref(),
        new.attachment.as_ref().map(Json) as _,
        new.reply_to_id,
        new.client_msg_id.as_deref(),
        &new.mentions,
        new.mentions_all,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(Stored::from))
}

/// A row of the send statements: `ord` is the 1-based position of the send.
struct StoredRow {
    ord: i64,
    created: bool,
    id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    sender_id: String,
    kind: DbMessageKind,
    content: Option<String>,
    attachment: Option<Json<Attachment>>,
    reply_to_id: Option<Uuid>,
    client_msg_id: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    edited_at: Option<chrono::DateTime<chrono::Utc>>,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    mentions: Vec<String>,
    mentions_all: bool,
}

impl From<StoredRow> for Stored {
    fn from(r: StoredRow) -> Self {
        Stored {
            index: (r.ord - 1) as usize,
            created: r.created,
            message: MessageRow {
                id: r.id,
                conversation_id: r.conversation_id,
                seq: r.seq,
                sender_id: r.sender_id,
                kind: r.kind,
                content: r.content,
                attachment: r.attachment,
                reply_to_id: r.reply_to_id,
                client_msg_id: r.client_msg_id,
                created_at: r.created_at,
                edited_at: r.edited_at,
                deleted_at: r.deleted_at,
                mentions: r.mentions,
                mentions_all: r.mentions_all,
            },
        }
    }
}
