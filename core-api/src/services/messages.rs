//! Messages: send (idempotent by `client_msg_id`, gap-free `seq`), list,
//! catch-up, get, edit, delete, read marks.

use serde::Deserialize;
use shared_types::api::{Message, SendMessage, ValidSend};
use shared_types::limits;
use shared_types::socket::{server_events, NS_MESSAGING};
use shared_types::Pagination;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::conversation::DbConversationKind;
use crate::models::message::DbMessageKind;
use crate::models::AuthUser;
use crate::repositories::conversations as conversations_repo;
use crate::repositories::messages as repo;
use crate::repositories::sends::NewMessage;
use crate::services::pagination::{self, PageQuery};
use crate::services::{files, membership};
use crate::state::AppState;

pub struct Sent {
    pub message: Message,
    /// False when a retried `client_msg_id` returned the original.
    pub created: bool,
}

/// Not `#[serde(flatten)]` over `PageQuery`: flattened query strings lose their number types.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Catch-up: messages with `seq` above this, oldest first.
    #[param(minimum = 0)]
    pub after_seq: Option<i64>,
}

pub async fn send(state: &AppState, me: &AuthUser, input: SendMessage) -> AppResult<Sent> {
    // the rules the edge checked too, from the one place
    let input = ValidSend::try_from(input).map_err(AppError::validation)?;
    if let Some(reply_to) = input.reply_to_id {
        membership::require_member(state, input.conversation_id, me).await?;
        if !repo::exists_in(&state.db, input.conversation_id, reply_to).await? {
            return Err(AppError::new(
                shared_types::ErrorCode::Unprocessable,
                "reply_to_id must be a message of the same conversation",
            ));
        }
    }
    // only an object issued to the sender; checked before the send is queued
    // (issued keys are never revoked, so the check cannot go stale before the
    // commit), so a refused key fails this send alone and batches stay as they are
    let attachment = match &input.attachment {
        Some(a) => Some(files::claim_attachment(state, me, input.kind, a).await?),
        None => None,
    };
    let (mentions, mentions_all) = mentions(state, me, &input).await?;
    let new = NewMessage {
        id: Uuid::new_v4(),
        conversation_id: input.conversation_id,
        sender_id: me.user_id,
        kind: input.kind.into(),
        content: input.content.clone(),
        attachment,
        reply_to_id: input.reply_to_id,
        client_msg_id: input.client_msg_id.clone(),
        mentions,
        mentions_all,
    };
    // One statement, shared with concurrent sends, answered after the commit:
    // it stores only a member's send (so membership is checked in the same
    // transaction), returns the original for a known client_msg_id, takes
    // the seq, inserts the row and moves the sender's read mark.
    let Some(stored) = state.sends.commit(new).await? else {
        // not stored: say why (404 or 403)
        membership::require_member(state, input.conversation_id, me).await?;
        return Err(AppError::forbidden(
            "you are not a member of this conversation",
        ));
    };
    let mut message: Message = stored.message.into();
    files::sign_urls(state, std::slice::from_mut(&mut message));
    if !stored.created {
        return retried(message, &input);
    }
    state.metrics.messages_persisted.inc();
    publish(state, &message, server_events::NEW_MESSAGE, None);
    state.push.message_created(&message);
    Ok(Sent {
        message,
        created: true,
    })
}

/// The send's mentions as stored: each member once, in the order given,
/// without the sender; ids of non-members dropped. `@all` (`mentions_all`)
/// is for group owners and admins only: anyone else is refused. A send
/// without mentions costs no query here.
async fn mentions(
    state: &AppState,
    me: &AuthUser,
    input: &SendMessage,
) -> AppResult<(Vec<String>, bool)> {
    if input.mentions_all {
        let caller = membership::require_member(state, input.conversation_id, me).await?;
        let kind = conversations_repo::kind(&state.db, input.conversation_id).await?;
        if kind != Some(DbConversationKind::Group) || !caller.can_administer() {
            return Err(AppError::forbidden(
                "only group owners and admins may mention everyone (mentions_all)",
            ));
        }
    }
    if input.mentions.is_empty() {
        return Ok((Vec::new(), input.mentions_all));
    }
    let members =
        conversations_repo::members_among(&state.db, input.conversation_id, &input.mentions)
            .await?;
    let mut kept: Vec<String> = Vec::with_capacity(input.mentions.len());
    for id in &input.mentions {
        if *id != me.tms_user_id && members.contains(id) && !kept.contains(id) {
            kept.push(id.clone());
        }
    }
    Ok((kept, input.mentions_all))
}

/// `client_msg_id` is the sender's per conversation: the original is always
/// of the conversation sent to.
fn retried(original: Message, _input: &SendMessage) -> AppResult<Sent> {
    Ok(Sent {
        message: original,
        created: false,
    })
}

pub async fn list(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    query: &ListQuery,
) -> AppResult<(Vec<Message>, Pagination)> {
    membership::require_member(state, conversation_id, me).await?;
    let limit = PageQuery {
        cursor: None,
        limit: query.limit,
    }
    .limit()?;
    let cursor_seq = query.cursor.as_deref().map(decode_seq_cursor).transpose()?;
    let (db, _) = super::replica::pool_for_read(state).await;
    let mut rows = match query.after_seq {
        Some(after) if after < 0 => return Err(AppError::validation("after_seq must be >= 0")),
        // with a cursor, the catch-up continues from it
        Some(after) => {
            let from = cursor_seq.unwrap_or(after).max(after);
            repo::list_after(db, conversation_id, from, limit + 1).await?
        }
        None => repo::list_before(db, conversation_id, cursor_seq, limit + 1).await?,
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = has_more
        .then(|| rows.last().map(|r| pagination::encode(&r.seq.to_string())))
        .flatten();
    let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    files::sign_urls(state, &mut messages);
    Ok((
        messages,
        Pagination {
            next_cursor,
            has_more,
        },
    ))
}

pub async fn get(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Message> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    membership::require_member(state, row.conversation_id, me).await?;
    let mut message: Message = row.into();
    files::sign_urls(state, std::slice::from_mut(&mut message));
    Ok(message)
}

pub async fn edit(state: &AppState, me: &AuthUser, id: Uuid, content: &str) -> AppResult<Message> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    membership::require_member(state, row.conversation_id, me).await?;
    if row.sender_id != me.tms_user_id {
        return Err(AppError::forbidden("only the sender can edit a message"));
    }
    if row.deleted_at.is_some() {
        return Err(AppError::conflict("the message was deleted"));
    }
    if row.kind != DbMessageKind::Text {
        return Err(AppError::validation("only text messages can be edited"));
    }
    limits::check_message_text(content).map_err(AppError::validation)?;
    // a delete may have won the race since the read above
    let conversation_id = row.conversation_id;
    if !repo::edit(&state.db, conversation_id, id, content).await? {
        return Err(AppError::conflict("the message was deleted"));
    }
    let message: Message = repo::get_in(&state.db, conversation_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?
        .into();
    publish(state, &message, server_events::MESSAGE_UPDATED, None);
    Ok(message)
}

/// The sender, or a group owner/admin, may delete.
pub async fn delete(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Message> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    let caller = membership::require_member(state, row.conversation_id, me).await?;
    if row.sender_id != me.tms_user_id && !caller.can_administer() {
        return Err(AppError::forbidden(
            "only the sender or a group admin can delete a message",
        ));
    }
    // deleting again is answered with the tombstone, and announced only once
    let deleted_now = repo::soft_delete(&state.db, row.conversation_id, id).await?;
    let message: Message = repo::get_in(&state.db, row.conversation_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?
        .into();
    if deleted_now {
        publish(state, &message, server_events::MESSAGE_DELETED, None);
    }
    Ok(message)
}

/// Pushes a new message (one core wrote itself, e.g. a system message) as a send would.
pub fn publish_new(state: &AppState, message: &Message) {
    publish(state, message, server_events::NEW_MESSAGE, None);
}

/// `publish_new` at a known removal epoch (else the lane reads the current one).
pub fn publish_new_at(state: &AppState, message: &Message, removal_epoch: Option<i64>) {
    publish(state, message, server_events::NEW_MESSAGE, removal_epoch);
}

/// Pushes a message event to the conversation's room at the edge. A new
/// message also reaches the members' sockets that have not joined the room.
fn publish(state: &AppState, message: &Message, event: &str, removal_epoch: Option<i64>) {
    if !state.fanout.is_enabled() {
        return;
    }
    // only new messages carry the room's order key; edits and deletes reuse the original seq
    let is_new = event == server_events::NEW_MESSAGE;
    let seq = is_new.then_some(message.seq);
    let data = serde_json::to_value(message).unwrap_or_default();
    let push = Push::to_conversation(message.conversation_id, NS_MESSAGING, event, data, seq)
        .at_epoch(removal_epoch);
    state.fanout.publish(if is_new {
        push.notifying_members()
    } else {
        // never before the message itself, whichever replica pushes that
        push.after(message.seq)
    });
}

fn decode_seq_cursor(cursor: &str) -> AppResult<i64> {
    pagination::decode(cursor)?
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(|| AppError::validation("cursor is not valid"))
}
