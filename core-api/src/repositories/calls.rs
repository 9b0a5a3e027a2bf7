use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::models::call::{
    CallRecord, CallRow, DbCallMedia, DbCallStatus, DbEndReason, DbParticipantStatus,
    ParticipantRow,
};

const CALL_SELECT: &str = "SELECT c.id, c.conversation_id, c.initiator_id AS initiator_user_id,
        u.tms_user_id AS initiator_id, c.media, c.status, c.started_at, c.answered_at,
        c.ended_at, c.end_reason, c.ring_deadline
    FROM calls c JOIN users u ON u.id = c.initiator_id";

/// Advisory lock class of "this user's calls" (the second key is the user's hash).
const USER_CALLS_LOCK: i32 = 7301;

pub struct NewCall {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub initiator_id: Uuid,
    pub media: DbCallMedia,
    pub started_at: DateTime<Utc>,
    pub ring_deadline: DateTime<Utc>,
}

pub struct NewParticipant {
    pub user_id: Uuid,
    pub status: DbParticipantStatus,
    pub joined_at: Option<DateTime<Utc>>,
}

/// Stores a ringing call and its participants.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewCall,
    participants: &[NewParticipant],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO calls (id, conversation_id, initiator_id, media, status, started_at, ring_deadline)
         VALUES ($1, $2, $3, $4, 'ringing', $5, $6)",
    )
    .bind(new.id)
    .bind(new.conversation_id)
    .bind(new.initiator_id)
    .bind(new.media)
    .bind(new.started_at)
    .bind(new.ring_deadline)
    .execute(&mut *conn)
    .await?;
    let rows: Vec<_> = participants
        .iter()
        .map(|p| json!({"user_id": p.user_id, "status": p.status.as_str(), "joined_at": p.joined_at}))
        .collect();
    sqlx::query(
        "INSERT INTO call_participants (call_id, user_id, status, joined_at)
         SELECT $1, p.user_id, p.status, p.joined_at
         FROM jsonb_to_recordset($2) AS p(user_id uuid, status text, joined_at timestamptz)",
    )
    .bind(new.id)
    .bind(serde_json::Value::Array(rows))
    .execute(conn)
    .await
    .map(drop)
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<CallRow>, sqlx::Error> {
    sqlx::query_as(&format!("{CALL_SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The call, locked until the transaction ends: its changes run one at a time.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<CallRow>, sqlx::Error> {
    sqlx::query_as(&format!("{CALL_SELECT} WHERE c.id = $1 FOR UPDATE OF c"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Calls whose ring deadline has passed, locked; those another transaction
/// holds (a sweeper on another replica, an accept) are skipped, not awaited.
pub async fn lock_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CallRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{CALL_SELECT} WHERE c.ring_deadline <= $1 ORDER BY c.ring_deadline
         LIMIT $2 FOR UPDATE OF c SKIP LOCKED"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Participants of these calls, with their TMS ids.
pub async fn participants(
    db: impl PgExecutor<'_>,
    call_ids: &[Uuid],
) -> Result<Vec<ParticipantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.call_id, p.user_id, u.tms_user_id, p.status, p.joined_at, p.left_at
         FROM call_participants p JOIN users u ON u.id = p.user_id
         WHERE p.call_id = ANY($1)",
    )
    .bind(call_ids)
    .fetch_all(db)
    .await
}

/// Writes the call's state and every participant's.
pub async fn save(conn: &mut PgConnection, call: &CallRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE calls SET status = $2, answered_at = $3, ended_at = $4, end_reason = $5,
            ring_deadline = $6
         WHERE id = $1",
    )
    .bind(call.id)
    .bind(DbCallStatus::from(call.status))
    .bind(call.answered_at)
    .bind(call.ended_at)
    .bind(call.end_reason.map(DbEndReason::from))
    .bind(call.ring_deadline)
    .execute(&mut *conn)
    .await?;
    let rows: Vec<_> = call
        .participants
        .iter()
        .map(|p| {
            json!({
                "user_id": p.user_id,
                "status": DbParticipantStatus::from(p.status).as_str(),
                "joined_at": p.joined_at,
                "left_at": p.left_at,
            })
        })
        .collect();
    sqlx::query(
        "UPDATE call_participants p
         SET status = n.status, joined_at = n.joined_at, left_at = n.left_at
         FROM jsonb_to_recordset($2)
             AS n(user_id uuid, status text, joined_at timestamptz, left_at timestamptz)
         WHERE p.call_id = $1 AND p.user_id = n.user_id",
    )
    .bind(call.id)
    .bind(serde_json::Value::Array(rows))
    .execute(conn)
    .await
    .map(drop)
}

/// Serialises call starts that involve any of these users until the
/// transaction ends (in one order, so two starts cannot deadlock).
pub async fn lock_users(conn: &mut PgConnection, user_ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, hashtext(u::text))
         FROM (SELECT DISTINCT u FROM unnest($2::uuid[]) AS u ORDER BY u) s",
    )
    .bind(USER_CALLS_LOCK)
    .bind(user_ids)
    .execute(conn)
    .await
    .map(drop)
}

/// Those of `user_ids` ringing or talking in a call.
pub async fn busy_among(
    db: impl PgExecutor<'_>,
    user_ids: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT user_id FROM call_participants
         WHERE user_id = ANY($1) AND status IN ('ringing', 'joined')",
    )
    .bind(user_ids)
    .fetch_all(db)
    .await
}

/// `(local id, TMS id)` of every member of the conversation.
pub async fn members(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.user_id, u.tms_user_id FROM conversation_members m
         JOIN users u ON u.id = m.user_id
         WHERE m.conversation_id = $1 ORDER BY u.tms_user_id",
    )
    .bind(conversation_id)
    .fetch_all(db)
    .await
}

/// The conversation's calls, newest first, strictly before `before` (started_at, id).
pub async fn page(
    db: impl PgExecutor<'_>,
    conversation_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CallRow>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as(&format!(
        "{CALL_SELECT} WHERE c.conversation_id = $1
            AND ($2::timestamptz IS NULL OR (c.started_at, c.id) < ($2, $3))
         ORDER BY c.started_at DESC, c.id DESC LIMIT $4"
    ))
    .bind(conversation_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The calls `user_id` took part in (caller or callee), newest first,
/// strictly before `before` (started_at, id): the per-user call log.
pub async fn page_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CallRow>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as(&format!(
        "{CALL_SELECT} JOIN call_participants p ON p.call_id = c.id AND p.user_id = $1
          WHERE ($2::timestamptz IS NULL OR (c.started_at, c.id) < ($2, $3))
          ORDER BY c.started_at DESC, c.id DESC LIMIT $4"
    ))
    .bind(user_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}
