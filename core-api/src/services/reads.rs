//! Read state across devices: "read up to here" and "mark all read" move the
//! member's `last_read_seq` and set the receipts of the messages covered in
//! one statement; every socket of the reader hears `conversation_read`, and
//! the senders' sockets hear `message_status` for each message newly read.

use shared_types::socket::{
    server_events, MessageStatusChanged, ReceiptKind, NS_MESSAGING, NS_NOTIFICATIONS,
};
use shared_types::sync::ConversationRead;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::AuthUser;
use crate::repositories::reads::{self as repo, NewlyRead};
use crate::services::membership;
use crate::state::AppState;

/// Marks everything up to `seq` read (a `seq` above the conversation's last
/// is taken as its last); a mark never moves back.
pub async fn read_up_to(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    seq: i64,
) -> AppResult<ConversationRead> {
    if seq < 0 {
        return Err(AppError::validation("seq must be >= 0"));
    }
    membership::require_member(state, conversation_id, me).await?;
    match apply(state, me, conversation_id, seq).await? {
        Some(read) => Ok(read),
        // left meanwhile
        None => Err(AppError::forbidden(
            "you are not a member of this conversation",
        )),
    }
}

/// Marks every conversation of the caller read up to its last message;
/// answers the read state of each conversation that changed.
pub async fn read_all(state: &AppState, me: &AuthUser) -> AppResult<Vec<ConversationRead>> {
    let behind = repo::behind(&state.db, me.user_id).await?;
    let mut changed = Vec::with_capacity(behind.len());
    for (conversation_id, last_seq) in behind {
        // one transaction per conversation: no lock held across the user's list
        if let Some(read) = apply(state, me, conversation_id, last_seq).await? {
            changed.push(read);
        }
    }
    Ok(changed)
}

/// Tells every socket of the reader where their read mark stands now; called
/// after any change of it (also by a single message's read receipt).
pub async fn announce(state: &AppState, tms_user_id: &str, read: &ConversationRead) {
    if !state.fanout.is_enabled() {
        return;
    }
    state.fanout.publish(Push::to_users(
        read.conversation_id.to_string(),
        vec![tms_user_id.to_owned()],
        NS_NOTIFICATIONS,
        server_events::CONVERSATION_READ,
        serde_json::to_value(read).unwrap_or_default(),
    ));
}

/// The member's read state now; `None` for a non-member.
pub async fn current(
    state: &AppState,
    conversation_id: Uuid,
    user_id: Uuid,
) -> AppResult<Option<ConversationRead>> {
    Ok(repo::state(&state.db, conversation_id, user_id).await?.map(
        |(last_read_seq, unread_count)| ConversationRead {
            conversation_id,
            last_read_seq,
            unread_count,
        },
    ))
}

/// One conversation's move, in its own transaction; announced when it moved.
async fn apply(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    seq: i64,
) -> AppResult<Option<ConversationRead>> {
    let mut tx = state.db.begin().await?;
    let Some((from, last_seq)) = repo::lock_mark(&mut tx, conversation_id, me.user_id).await?
    else {
        return Ok(None);
    };
    let to = seq.min(last_seq);
    let newly_read = if to > from {
        repo::mark_range(&mut tx, conversation_id, me.user_id, from, to).await?
    } else {
        Vec::new()
    };
    let read = repo::state(&mut *tx, conversation_id, me.user_id)
        .await?
        .map(|(last_read_seq, unread_count)| ConversationRead {
            conversation_id,
            last_read_seq,
            unread_count,
        });
    tx.commit().await?;
    if to > from {
        if let Some(read) = &read {
            announce(state, &me.tms_user_id, read).await;
        }
        tell_senders(state, me, conversation_id, newly_read);
    }
    Ok(read)
}

/// `message_status` to each sender's sockets for each of their messages now
/// read, as a single read receipt does.
fn tell_senders(state: &AppState, me: &AuthUser, conversation_id: Uuid, rows: Vec<NewlyRead>) {
    if !state.fanout.is_enabled() {
        return;
    }
    for row in rows {
        let event = MessageStatusChanged {
            conversation_id,
            message_id: row.message_id,
            user_id: me.tms_user_id.clone(),
            status: ReceiptKind::Read,
            delivered_at: row.delivered_at,
            read_at: row.read_at,
        };
        state.fanout.publish(Push::to_users(
            conversation_id.to_string(),
            vec![row.sender_id],
            NS_MESSAGING,
            server_events::MESSAGE_STATUS,
            serde_json::to_value(event).unwrap_or_default(),
        ));
    }
}
