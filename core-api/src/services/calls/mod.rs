//! Calls: started in a conversation (ringing its other members), accepted,
//! rejected, left, ended, timed out; SDP/ICE signals relayed between its
//! participants. Every state change runs under the call's row lock
//! (`machine` holds the rules) and is announced to the participants' `/calls`
//! sockets after commit, through the push lanes (user-addressed, resolved
//! from presence). Signals are not stored: core checks both ends and relays.

mod machine;
pub mod sweeper;

use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use shared_types::calls::{
    BadSignal, Call, CallEvent, CallMedia, CallStatus, ParticipantStatus, RelayedSignal, Signal,
    SignalSent, MAX_CALL_PARTICIPANTS,
};
use shared_types::socket::{server_events, NS_CALLS};
use shared_types::{ErrorCode, Pagination};
use sqlx::PgConnection;
use uuid::Uuid;

pub use machine::Act;
use machine::{Outcome, Refusal};

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::call::{CallRecord, CallRow, DbParticipantStatus, Participant, ParticipantRow};
use crate::models::AuthUser;
use crate::repositories::calls::{self as repo, NewCall, NewParticipant};
use crate::services::pagination::{self, PageQuery};
use crate::services::{membership, system_messages};
use crate::state::AppState;

/// Starts a call in the conversation, ringing every other member who is not
/// busy. 409 `BUSY` when the caller is in a call already, or when every
/// callee is (nothing is stored then).
pub async fn start(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    media: CallMedia,
) -> AppResult<Call> {
    membership::require_member(state, conversation_id, me).await?;
    let mut tx = state.db.begin().await?;
    let members = repo::members(&mut *tx, conversation_id).await?;
    if !members.iter().any(|(id, _)| *id == me.user_id) {
        return Err(AppError::forbidden(
            "you are not a member of this conversation",
        ));
    }
    if members.len() < 2 {
        return Err(AppError::new(
            ErrorCode::Unprocessable,
            "there is nobody else in this conversation to call",
        ));
    }
    if members.len() > MAX_CALL_PARTICIPANTS {
        return Err(AppError::new(
            ErrorCode::Unprocessable,
            format!("a call rings at most {MAX_CALL_PARTICIPANTS} participants"),
        ));
    }
    let ids: Vec<Uuid> = members.iter().map(|(id, _)| *id).collect();
    // starts sharing a user run one at a time, so a user never rings in two calls
    repo::lock_users(&mut tx, &ids).await?;
    let busy: HashSet<Uuid> = repo::busy_among(&mut *tx, &ids)
        .await?
        .into_iter()
        .collect();
    if busy.contains(&me.user_id) {
        return Err(AppError::new(
            ErrorCode::Busy,
            "you are already in a call: end it first",
        ));
    }
    let callees: Vec<&(Uuid, String)> =
        members.iter().filter(|(id, _)| *id != me.user_id).collect();
    if callees.iter().all(|(id, _)| busy.contains(id)) {
        let busy_ids: Vec<&str> = callees.iter().map(|(_, tms)| tms.as_str()).collect();
        return Err(AppError::with_details(
            ErrorCode::Busy,
            "everyone you are calling is in another call",
            json!({ "busy_user_ids": busy_ids }),
        ));
    }
    // read under the locks: the time the call starts
    let now = now(state);
    let record = new_record(state, me, conversation_id, media, &members, &busy, now);
    let participants: Vec<NewParticipant> = record
        .participants
        .iter()
        .map(|p| NewParticipant {
            user_id: p.user_id,
            status: DbParticipantStatus::from(p.status),
            joined_at: p.joined_at,
        })
        .collect();
    let new = NewCall {
        id: record.id,
        conversation_id,
        initiator_id: me.user_id,
        media: media.into(),
        started_at: now,
        ring_deadline: record.ring_deadline.unwrap_or(now),
    };
    repo::insert(&mut tx, &new, &participants).await?;
    tx.commit().await?;

    let rung: Vec<String> = record
        .participants
        .iter()
        .filter(|p| p.status == ParticipantStatus::Ringing)
        .map(|p| p.tms_user_id.clone())
        .collect();
    let call = record.to_wire();
    announce(
        state,
        &call,
        server_events::CALL_INVITE,
        rung,
        Some(&me.tms_user_id),
    );
    Ok(call)
}

fn new_record(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    media: CallMedia,
    members: &[(Uuid, String)],
    busy: &HashSet<Uuid>,
    now: DateTime<Utc>,
) -> CallRecord {
    let ring = chrono::Duration::from_std(state.config.calls.ring_timeout)
        .unwrap_or_else(|_| chrono::Duration::seconds(45));
    let mut participants: Vec<Participant> = members
        .iter()
        .map(|(id, tms)| {
            let (status, joined_at) = if *id == me.user_id {
                (ParticipantStatus::Joined, Some(now))
            } else if busy.contains(id) {
                (ParticipantStatus::Busy, None)
            } else {
                (ParticipantStatus::Ringing, None)
            };
            Participant {
                user_id: *id,
                tms_user_id: tms.clone(),
                status,
                joined_at,
                left_at: None,
            }
        })
        .collect();
    // the caller first, then by TMS id (members come sorted)
    participants.sort_by_key(|p| p.user_id != me.user_id);
    CallRecord {
        id: Uuid::new_v4(),
        conversation_id,
        initiator_user_id: me.user_id,
        initiator_id: me.tms_user_id.clone(),
        media,
        status: CallStatus::Ringing,
        started_at: now,
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ring_deadline: Some(now + ring),
        participants,
    }
}

/// The call, for a member of its conversation.
pub async fn get(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Call> {
    let row = visible(state, me, id).await?;
    let participants = repo::participants(&state.db, &[id]).await?;
    Ok(CallRecord::from_rows(row, &participants).to_wire())
}

/// The conversation's calls, newest first, with cursor pagination.
pub async fn history(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    page: &PageQuery,
) -> AppResult<(Vec<Call>, Pagination)> {
    membership::require_member(state, conversation_id, me).await?;
    let limit = page.limit()?;
    let before = decode_cursor(page)?;
    let rows = repo::page(&state.db, conversation_id, before, limit + 1).await?;
    paged(state, rows, limit).await
}

/// The caller's own calls (as caller or callee) in every conversation,
/// newest first, with cursor pagination: the per-user call log.
pub async fn log(
    state: &AppState,
    me: &AuthUser,
    page: &PageQuery,
) -> AppResult<(Vec<Call>, Pagination)> {
    let limit = page.limit()?;
    let before = decode_cursor(page)?;
    let rows = repo::page_for_user(&state.db, me.user_id, before, limit + 1).await?;
    paged(state, rows, limit).await
}

fn decode_cursor(page: &PageQuery) -> AppResult<Option<(DateTime<Utc>, Uuid)>> {
    page.cursor
        .as_deref()
        .map(pagination::decode_time_id)
        .transpose()
}

/// One page of `limit` calls from `limit + 1` rows, with their participants.
async fn paged(
    state: &AppState,
    mut rows: Vec<CallRow>,
    limit: i64,
) -> AppResult<(Vec<Call>, Pagination)> {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = has_more
        .then(|| {
            rows.last()
                .map(|r| pagination::encode_time_id(r.started_at, r.id))
        })
        .flatten();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let participants = repo::participants(&state.db, &ids).await?;
    let calls = rows
        .into_iter()
        .map(|r| CallRecord::from_rows(r, &participants).to_wire())
        .collect();
    Ok((
        calls,
        Pagination {
            next_cursor,
            has_more,
        },
    ))
}

/// Accept, reject, leave or end, under the call's lock. A ring whose deadline
/// has passed times out first (the sweeper may not have come by yet), so an
/// accept after the deadline is refused whatever the sweeper's pace.
pub async fn act(state: &AppState, me: &AuthUser, id: Uuid, act: Act) -> AppResult<Call> {
    visible(state, me, id).await?;
    let mut tx = state.db.begin().await?;
    let mut record = locked(&mut tx, id).await?;
    let was_live = record.status.is_live();
    // read under the lock: the time the change takes effect
    let now = now(state);
    let expired = machine::expire(&mut record, now);
    let done = match machine::apply(&mut record, me.user_id, act, now) {
        Ok(done) => done,
        Err(refusal) => {
            if expired.changed() {
                // the timeout stands, announced; the act itself is refused
                repo::save(&mut tx, &record).await?;
                let line = end_line(&mut tx, was_live, &record).await?;
                tx.commit().await?;
                publish(state, &record.to_wire(), &expired, None);
                system_messages::deliver(state, line.as_ref());
            }
            return Err(refused(refusal));
        }
    };
    let call = record.to_wire();
    if !expired.changed() && !done.changed() {
        tx.rollback().await?;
        return Ok(call);
    }
    repo::save(&mut tx, &record).await?;
    let line = end_line(&mut tx, was_live, &record).await?;
    tx.commit().await?;
    publish(state, &call, &expired, None);
    publish(state, &call, &done, Some(&me.tms_user_id));
    system_messages::deliver(state, line.as_ref());
    Ok(call)
}

/// Relays an SDP offer/answer or ICE candidates from the caller to another
/// live participant of the same call, to every `/calls` socket of theirs.
pub async fn signal(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    signal: Signal,
) -> AppResult<SignalSent> {
    signal.check(&me.tms_user_id).map_err(|e| match e {
        BadSignal::Invalid(m) => AppError::validation(m),
        BadSignal::TooLarge(m) => AppError::new(ErrorCode::PayloadTooLarge, m),
    })?;
    let row = visible(state, me, id).await?;
    let participants = repo::participants(&state.db, &[id]).await?;
    let record = CallRecord::from_rows(row, &participants);
    let sender = record
        .participants
        .iter()
        .find(|p| p.user_id == me.user_id)
        .ok_or_else(not_a_participant)?;
    if !record.status.is_live() {
        return Err(AppError::conflict("the call has ended"));
    }
    if !sender.status.is_live() {
        return Err(AppError::conflict("you are no longer in this call"));
    }
    let target = record
        .participants
        .iter()
        .find(|p| p.tms_user_id == signal.to_user_id)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::Unprocessable,
                "to_user_id is not a participant of this call",
            )
        })?;
    if !target.status.is_live() {
        return Err(AppError::conflict("to_user_id is no longer in this call"));
    }
    let sent = SignalSent {
        call_id: id,
        to_user_id: signal.to_user_id.clone(),
        kind: signal.kind,
    };
    if state.fanout.is_enabled() {
        let relayed = RelayedSignal {
            call_id: id,
            from_user_id: me.tms_user_id.clone(),
            kind: signal.kind,
            payload: signal.payload,
        };
        // the conversation's lane: one sender's signals stay in order
        state.fanout.publish(Push::to_users(
            record.conversation_id.to_string(),
            vec![signal.to_user_id],
            NS_CALLS,
            server_events::CALL_SIGNAL,
            serde_json::to_value(relayed).unwrap_or_default(),
        ));
    }
    Ok(sent)
}

/// The conversation's "missed call" or "call ended" line, when this change
/// ended the call.
async fn end_line(
    conn: &mut PgConnection,
    was_live: bool,
    record: &CallRecord,
) -> AppResult<Option<shared_types::api::Message>> {
    if !was_live || record.status.is_live() {
        return Ok(None);
    }
    system_messages::record_call_end(conn, record).await
}

/// The call row, if it exists and the caller is a member of its conversation.
async fn visible(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<CallRow> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("call"))?;
    membership::require_member(state, row.conversation_id, me).await?;
    Ok(row)
}

/// The call with its participants, locked until the transaction ends.
async fn locked(conn: &mut PgConnection, id: Uuid) -> AppResult<CallRecord> {
    let row = repo::lock(&mut *conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("call"))?;
    let participants: Vec<ParticipantRow> = repo::participants(&mut *conn, &[id]).await?;
    Ok(CallRecord::from_rows(row, &participants))
}

/// The clock at Postgres's precision, so an answer built in memory equals
/// the stored call read back later.
fn now(state: &AppState) -> DateTime<Utc> {
    state.clock.now().trunc_subsecs(6)
}

fn not_a_participant() -> AppError {
    AppError::forbidden("you are not a participant of this call")
}

fn refused(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::NotParticipant => not_a_participant(),
        Refusal::Conflict(message) => AppError::conflict(message),
    }
}

/// Sends each of the outcome's events, in order, to its audience.
fn publish(state: &AppState, call: &Call, outcome: &Outcome, by: Option<&str>) {
    for event in &outcome.events {
        announce(state, call, event, outcome.audience.clone(), by);
    }
}

fn announce(state: &AppState, call: &Call, event: &str, users: Vec<String>, by: Option<&str>) {
    if !state.fanout.is_enabled() || users.is_empty() {
        return;
    }
    let data = CallEvent {
        call: call.clone(),
        user_id: by.map(str::to_owned),
    };
    state.fanout.publish(Push::to_users(
        call.conversation_id.to_string(),
        users,
        NS_CALLS,
        event,
        serde_json::to_value(data).unwrap_or_default(),
    ));
}
