//! Polls: created as a `poll` message in a conversation (so it has a `seq` and
//! is caught up like any message), voted on, retracted, closed. Votes and
//! closing of one poll take the poll's row lock, so they run one at a time:
//! a closed poll takes no vote, a single-choice poll never holds two votes of
//! one user, and the results published with each change are exact.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use shared_types::api::Message;
use shared_types::limits::{
    self, MAX_POLL_OPTIONS, MAX_POLL_OPTION_CHARS, MAX_POLL_QUESTION_CHARS, MIN_POLL_OPTIONS,
};
use shared_types::polls::{CreatePoll, CreatedPoll, Poll};
use shared_types::socket::{server_events, NS_MESSAGING};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::message::DbMessageKind;
use crate::models::poll::PollRow;
use crate::models::AuthUser;
use crate::repositories::polls as repo;
use crate::repositories::sends::{self as sends_repo, NewMessage};
use crate::services::membership;
use crate::state::AppState;

pub async fn create(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    input: CreatePoll,
) -> AppResult<CreatedPoll> {
    let now = state.clock.now();
    let (question, options) = validate(&input, now)?;
    membership::require_member(state, conversation_id, me).await?;

    let mut tx = state.db.begin().await?;
    let new = NewMessage {
        id: Uuid::new_v4(),
        conversation_id,
        sender_id: me.user_id,
        kind: DbMessageKind::Poll,
        // the question doubles as the message text: previews and notifications show it
        content: Some(question.clone()),
        attachment: None,
        reply_to_id: None,
        client_msg_id: None,
        mentions: Vec::new(),
        mentions_all: false,
    };
    // the send statement: membership checked again in this transaction, next
    // seq taken, the creator's read mark moved
    let row = sends_repo::insert_one(&mut *tx, &new)
        .await?
        .ok_or_else(|| AppError::forbidden("you are not a member of this conversation"))?
        .message;
    let seq = row.seq;
    let new_poll = repo::NewPoll {
        conversation_id,
        message_id: row.id,
        creator_id: me.user_id,
        question: &question,
        multiple: input.multiple,
        anonymous: input.anonymous,
        closes_at: input.closes_at,
    };
    let poll_id = repo::insert(&mut tx, &new_poll, &options).await?;
    let poll = view(&mut tx, conversation_id, poll_id, Some(me.user_id), now).await?;
    tx.commit().await?;
    state.metrics.messages_persisted.inc();

    let mut message: Message = row.into();
    message.poll_id = Some(poll_id);
    if state.fanout.is_enabled() {
        let data = serde_json::to_value(&message).unwrap_or_default();
        let push = Push::to_conversation(
            conversation_id,
            NS_MESSAGING,
            server_events::NEW_MESSAGE,
            data,
            Some(seq),
        );
        state.fanout.publish(push.notifying_members());
    }
    // the question is the message text: offline members hear of it like any message
    state.push.message_created(&message);
    message.reactions = Some(Vec::new());
    Ok(CreatedPoll { poll, message })
}

pub async fn get(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Poll> {
    let row = visible(state, me, id).await?;
    let mut conn = state.db.acquire().await?;
    view(
        &mut conn,
        row.conversation_id,
        row.id,
        Some(me.user_id),
        state.clock.now(),
    )
    .await
}

/// The caller's choice becomes exactly `option_ids`, replacing an earlier vote.
pub async fn vote(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    option_ids: Vec<Uuid>,
) -> AppResult<Poll> {
    let row = visible(state, me, id).await?;
    if option_ids.is_empty() {
        return Err(AppError::validation(
            "option_ids must name at least one option (DELETE the vote to retract it)",
        ));
    }
    let chosen: HashSet<Uuid> = option_ids.iter().copied().collect();
    if chosen.len() != option_ids.len() {
        return Err(AppError::validation("option_ids must not repeat an option"));
    }
    if !row.multiple_choice && chosen.len() > 1 {
        return Err(AppError::validation(
            "this poll takes a single option per voter",
        ));
    }
    // options never change after creation, so this check needs no lock
    let own: HashSet<Uuid> = repo::option_ids(&state.db, row.conversation_id, id)
        .await?
        .into_iter()
        .collect();
    if !chosen.is_subset(&own) {
        return Err(AppError::validation(
            "option_ids must be options of this poll",
        ));
    }
    change_vote(state, me, row.conversation_id, id, &option_ids).await
}

/// Removes the caller's vote; answering with the poll either way.
pub async fn retract(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Poll> {
    let row = visible(state, me, id).await?;
    change_vote(state, me, row.conversation_id, id, &[]).await
}

/// The creator, or a group owner/admin, closes the poll. Closing a closed poll
/// answers with it unchanged.
pub async fn close(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Poll> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("poll"))?;
    let caller = membership::require_member(state, row.conversation_id, me).await?;
    if row.creator_user_id != me.user_id && !caller.can_administer() {
        return Err(AppError::forbidden(
            "only the poll's creator or a group admin can close it",
        ));
    }
    let conversation_id = row.conversation_id;
    let mut tx = state.db.begin().await?;
    let locked = repo::lock(&mut tx, conversation_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("poll"))?;
    // read under the lock: the time the close takes effect
    let now = state.clock.now();
    if locked.is_closed(now) {
        let poll = view(&mut tx, conversation_id, id, Some(me.user_id), now).await?;
        tx.rollback().await?;
        return Ok(poll);
    }
    repo::close(&mut tx, conversation_id, id, now).await?;
    let poll = view(&mut tx, conversation_id, id, Some(me.user_id), now).await?;
    tx.commit().await?;
    publish(state, &poll, locked.message_seq);
    Ok(poll)
}

/// For message answers: names the poll each live `poll` message announces.
pub async fn attach_ids(state: &AppState, messages: &mut [Message]) -> AppResult<()> {
    let ids: Vec<(Uuid, Uuid)> = messages
        .iter()
        .filter(|m| m.kind == shared_types::api::MessageKind::Poll && m.deleted_at.is_none())
        .map(|m| (m.conversation_id, m.id))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    for (message_id, poll_id) in repo::by_messages(&state.db, &ids).await? {
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            m.poll_id = Some(poll_id);
        }
    }
    Ok(())
}

/// The poll, if it exists (its message not deleted) and the caller is a member.
async fn visible(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<PollRow> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("poll"))?;
    membership::require_member(state, row.conversation_id, me).await?;
    Ok(row)
}

/// Under the poll's lock: refuses a closed poll, replaces the caller's vote,
/// and publishes the results when anything changed.
async fn change_vote(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    id: Uuid,
    option_ids: &[Uuid],
) -> AppResult<Poll> {
    let mut tx = state.db.begin().await?;
    let locked = repo::lock(&mut tx, conversation_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("poll"))?;
    // read under the lock: a vote that waited past `closes_at` is refused
    let now = state.clock.now();
    if locked.is_closed(now) {
        return Err(AppError::conflict("the poll is closed"));
    }
    let current = repo::votes_of(&mut *tx, conversation_id, id, me.user_id).await?;
    let same = current.len() == option_ids.len() && option_ids.iter().all(|o| current.contains(o));
    if same {
        // nothing changes: no new version, nothing announced
        let poll = view(&mut tx, conversation_id, id, Some(me.user_id), now).await?;
        tx.rollback().await?;
        return Ok(poll);
    }
    repo::replace_votes(&mut tx, conversation_id, id, me.user_id, option_ids).await?;
    repo::bump_version(&mut tx, conversation_id, id).await?;
    let poll = view(&mut tx, conversation_id, id, Some(me.user_id), now).await?;
    tx.commit().await?;
    publish(state, &poll, locked.message_seq);
    Ok(poll)
}

/// The poll with its results; `viewer`'s own options in `my_votes`.
async fn view(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    id: Uuid,
    viewer: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<Poll> {
    let row = repo::get_in(&mut *conn, conversation_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("poll"))?;
    let options = repo::results(&mut *conn, conversation_id, id).await?;
    let total = repo::total_voters(&mut *conn, conversation_id, id).await?;
    let mine = match viewer {
        Some(user) => Some(repo::votes_of(&mut *conn, conversation_id, id, user).await?),
        None => None,
    };
    Ok(row.into_poll(options, total, mine, now))
}

/// `poll_updated` to the conversation's room, without the caller's own
/// votes, after the poll's message (`seq`).
fn publish(state: &AppState, poll: &Poll, seq: i64) {
    if !state.fanout.is_enabled() {
        return;
    }
    let mut shared = poll.clone();
    shared.my_votes = None;
    let data = serde_json::to_value(&shared).unwrap_or_default();
    state.fanout.publish(
        Push::to_conversation(
            poll.conversation_id,
            NS_MESSAGING,
            server_events::POLL_UPDATED,
            data,
            None,
        )
        .after(seq),
    );
}

/// The trimmed question and options, or 422.
fn validate(input: &CreatePoll, now: DateTime<Utc>) -> AppResult<(String, Vec<String>)> {
    let question = input.question.trim();
    limits::check_storable("question", question).map_err(AppError::validation)?;
    for option in &input.options {
        limits::check_storable("options", option).map_err(AppError::validation)?;
    }
    if question.is_empty() || question.chars().count() > MAX_POLL_QUESTION_CHARS {
        return Err(AppError::validation(format!(
            "question must be 1 to {MAX_POLL_QUESTION_CHARS} characters"
        )));
    }
    if !(MIN_POLL_OPTIONS..=MAX_POLL_OPTIONS).contains(&input.options.len()) {
        return Err(AppError::validation(format!(
            "a poll has {MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS} options"
        )));
    }
    let options: Vec<String> = input.options.iter().map(|o| o.trim().to_string()).collect();
    if options
        .iter()
        .any(|o| o.is_empty() || o.chars().count() > MAX_POLL_OPTION_CHARS)
    {
        return Err(AppError::validation(format!(
            "each option must be 1 to {MAX_POLL_OPTION_CHARS} characters"
        )));
    }
    if options.iter().collect::<HashSet<_>>().len() != options.len() {
        return Err(AppError::validation("options must differ from each other"));
    }
    if input.closes_at.is_some_and(|t| t <= now) {
        return Err(AppError::validation("closes_at must be in the future"));
    }
    Ok((question.to_string(), options))
}
