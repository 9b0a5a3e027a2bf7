use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::poll::{OptionResultRow, PollRow};

/// A poll whose message was deleted is gone, like the message's content.
/// Polls, their options and votes are keyed by `(conversation_id, id)`: every
/// query below names the conversation, except `get`, which finds it.
const POLL_FROM: &str = "SELECT p.id, p.conversation_id, p.message_id, m.seq AS message_seq,
        p.creator_id AS creator_user_id,
        u.tms_user_id AS creator_id, p.question, p.multiple_choice, p.anonymous, p.closes_at,
        p.closed_at, p.version, p.created_at
    FROM polls p
    JOIN users u ON u.id = p.creator_id
    JOIN messages m ON m.conversation_id = p.conversation_id AND m.id = p.message_id
                   AND m.deleted_at IS NULL";

pub struct NewPoll<'a> {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub creator_id: Uuid,
    pub question: &'a str,
    pub multiple: bool,
    pub anonymous: bool,
    pub closes_at: Option<DateTime<Utc>>,
}

/// Inserts the poll and its options (in the given order); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewPoll<'_>,
    options: &[String],
) -> Result<Uuid, sqlx::Error> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO polls (conversation_id, message_id, creator_id, question, multiple_choice, anonymous, closes_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.conversation_id)
    .bind(new.message_id)
    .bind(new.creator_id)
    .bind(new.question)
    .bind(new.multiple)
    .bind(new.anonymous)
    .bind(new.closes_at)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO poll_options (conversation_id, poll_id, position, text)
         SELECT $3, $1, (o.n - 1)::int, o.text FROM unnest($2::text[]) WITH ORDINALITY AS o(text, n)",
    )
    .bind(id)
    .bind(options)
    .bind(new.conversation_id)
    .execute(conn)
    .await?;
    Ok(id)
}

/// By id alone, for the routes that name only the poll (`idx_polls_id`).
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<PollRow>, sqlx::Error> {
    sqlx::query_as(&format!("{POLL_FROM} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn get_in(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<Option<PollRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{POLL_FROM} WHERE p.conversation_id = $1 AND p.id = $2"
    ))
    .bind(conversation_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The poll, locked until the transaction ends: votes and closing of one poll
/// run one at a time, so a closed poll takes no vote and results are exact.
pub async fn lock(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    id: Uuid,
) -> Result<Option<PollRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{POLL_FROM} WHERE p.conversation_id = $1 AND p.id = $2 FOR UPDATE OF p"
    ))
    .bind(conversation_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn option_ids(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    poll_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM poll_options WHERE conversation_id = $1 AND poll_id = $2 ORDER BY position",
    )
    .bind(conversation_id)
    .bind(poll_id)
    .fetch_all(db)
    .await
}

/// Every option in order, with its count and voters.
pub async fn results(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    poll_id: Uuid,
) -> Result<Vec<OptionResultRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.position, o.text, count(v.user_id) AS votes,
            COALESCE(array_agg(u.tms_user_id ORDER BY v.voted_at, u.tms_user_id)
                FILTER (WHERE u.tms_user_id IS NOT NULL), '{}') AS voters
         FROM poll_options o
         LEFT JOIN poll_votes v ON v.conversation_id = o.conversation_id
                               AND v.poll_id = o.poll_id AND v.option_id = o.id
         LEFT JOIN users u ON u.id = v.user_id
         WHERE o.conversation_id = $1 AND o.poll_id = $2
         GROUP BY o.id, o.position, o.text
         ORDER BY o.position",
    )
    .bind(conversation_id)
    .bind(poll_id)
    .fetch_all(db)
    .await
}

pub async fn total_voters(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    poll_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(DISTINCT user_id) FROM poll_votes WHERE conversation_id = $1 AND poll_id = $2",
    )
    .bind(conversation_id)
    .bind(poll_id)
        .fetch_one(db)
        .await
}

/// The options `user_id` voted for, in the poll's order.
pub async fn votes_of(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    poll_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT v.option_id FROM poll_votes v
           JOIN poll_options o ON o.conversation_id = v.conversation_id AND o.id = v.option_id
         WHERE v.conversation_id = $1 AND v.poll_id = $2 AND v.user_id = $3 ORDER BY o.position",
    )
    .bind(conversation_id)
    .bind(poll_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Replaces the user's vote with `option_ids` (none: retracts). Returns the rows removed.
pub async fn replace_votes(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    poll_id: Uuid,
    user_id: Uuid,
    option_ids: &[Uuid],
) -> Result<u64, sqlx::Error> {
    let removed = sqlx::query(
        "DELETE FROM poll_votes WHERE conversation_id = $1 AND poll_id = $2 AND user_id = $3",
    )
    .bind(conversation_id)
    .bind(poll_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if !option_ids.is_empty() {
        sqlx::query(
            "INSERT INTO poll_votes (conversation_id, poll_id, option_id, user_id)
             SELECT $4, $1, o, $2 FROM unnest($3::uuid[]) AS o",
        )
        .bind(poll_id)
        .bind(user_id)
        .bind(option_ids)
        .bind(conversation_id)
        .execute(conn)
        .await?;
    }
    Ok(removed)
}

/// Marks a change of votes; returns the new version.
pub async fn bump_version(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    poll_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE polls SET version = version + 1 WHERE conversation_id = $1 AND id = $2
         RETURNING version",
    )
    .bind(conversation_id)
    .bind(poll_id)
    .fetch_one(conn)
    .await
}

pub async fn close(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    poll_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE polls SET closed_at = $2, version = version + 1
         WHERE conversation_id = $3 AND id = $1",
    )
    .bind(poll_id)
    .bind(at)
    .bind(conversation_id)
    .execute(conn)
    .await
    .map(drop)
}

/// `(message_id, poll_id)` for those of `messages` (`(conversation_id, id)`
/// pairs) that announce a poll.
pub async fn by_messages(
    db: impl PgExecutor<'_>,
    messages: &[(Uuid, Uuid)],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let (conversations, ids): (Vec<Uuid>, Vec<Uuid>) = messages.iter().copied().unzip();
    sqlx::query_as(
        "SELECT message_id, id FROM polls
         WHERE (conversation_id, message_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))",
    )
    .bind(conversations)
    .bind(ids)
    .fetch_all(db)
    .await
}
