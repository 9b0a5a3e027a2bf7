//! Delivery and read receipts. Reading a message also moves the reader's
//! `last_read_seq`, which is what unread counts are computed from.

use serde::Serialize;
use shared_types::socket::{server_events, MessageStatusChanged, ReceiptKind, NS_MESSAGING};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::AuthUser;
use crate::repositories::receipts::NewReceipt;
use crate::repositories::{messages as messages_repo, receipts as repo};
use crate::services::{membership, reads};
use crate::state::AppState;

/// The caller's receipt of one message, after the mark.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Receipt)]
pub struct ReceiptView {
    pub conversation_id: Uuid,
    pub message_id: Uuid,
    pub user_id: String,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn mark(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Option<Uuid>,
    message_id: Uuid,
    receipt: ReceiptKind,
) -> AppResult<ReceiptView> {
    let message = messages_repo::get(&state.db, message_id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    membership::require_member(state, message.conversation_id, me).await?;
    if conversation_id.is_some_and(|c| c != message.conversation_id) {
        return Err(AppError::not_found("message"));
    }
    if message.sender_id == me.tms_user_id {
        return Err(AppError::validation("you cannot mark your own message"));
    }
    let read = receipt == ReceiptKind::Read;
    // group commit: answered after the batch holding it committed
    let (delivered_at, read_at) = state
        .receipts
        .commit(NewReceipt {
            conversation_id: message.conversation_id,
            message_id,
            user_id: me.user_id,
            read,
            seq: message.seq,
        })
        .await?;
    if read {
        // the reader's other devices move their badge too
        if let Some(now) = reads::current(state, message.conversation_id, me.user_id).await? {
            reads::announce(state, &me.tms_user_id, &now).await;
        }
    }
    let view = ReceiptView {
        conversation_id: message.conversation_id,
        message_id,
        user_id: me.tms_user_id.clone(),
        delivered_at,
        read_at,
    };
    if state.fanout.is_enabled() {
        let event = MessageStatusChanged {
            conversation_id: view.conversation_id,
            message_id,
            user_id: view.user_id.clone(),
            status: receipt,
            delivered_at,
            read_at,
        };
        let data = serde_json::to_value(event).unwrap_or_default();
        // to the sender's devices only, in order with the conversation's other events
        state.fanout.publish(Push::to_users(
            message.conversation_id.to_string(),
            vec![message.sender_id.clone()],
            NS_MESSAGING,
            server_events::MESSAGE_STATUS,
            data,
        ));
    }
    Ok(view)
}

/// Per-recipient status; only the sender may ask.
pub async fn status(
    state: &AppState,
    me: &AuthUser,
    message_id: Uuid,
) -> AppResult<Vec<repo::StatusRow>> {
    let message = messages_repo::get(&state.db, message_id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    membership::require_member(state, message.conversation_id, me).await?;
    if message.sender_id != me.tms_user_id {
        return Err(AppError::forbidden(
            "only the sender can see a message's receipts",
        ));
    }
    Ok(repo::for_message(&state.db, message_id, message.conversation_id, me.user_id).await?)
}
