//! System messages ("alice added bob", "Missed voice call"): written by core
//! in the transaction of the change they record, with the member who caused
//! it as sender (so the send statement moves that member's read mark past
//! it: never unread for them), and delivered after commit like any message.
//! The event is stored as JSON in `content`; `models::message` turns it into
//! the wire's `system` field and an English `content`.

use shared_types::api::Message;
use shared_types::calls::CallStatus;
use shared_types::sync::SystemEvent;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppResult;
use crate::models::call::CallRecord;
use crate::models::message::DbMessageKind;
use crate::repositories::sends::{self, NewMessage};
use crate::services::messages;
use crate::state::AppState;

/// Stores the event as the conversation's next message, sent by `actor`
/// (a local user id). `None` when `actor` is not a member (any more): the
/// change is then recorded without a line.
pub async fn record(
    conn: &mut PgConnection,
    conversation_id: Uuid,
    actor: Uuid,
    event: &SystemEvent,
) -> AppResult<Option<Message>> {
    let new = NewMessage {
        id: Uuid::new_v4(),
        conversation_id,
        sender_id: actor,
        kind: DbMessageKind::System,
        content: Some(serde_json::to_string(event).unwrap_or_default()),
        attachment: None,
        reply_to_id: None,
        client_msg_id: None,
        mentions: Vec::new(),
        mentions_all: false,
    };
    Ok(sends::insert_one(&mut *conn, &new)
        .await?
        .map(|stored| stored.message.into()))
}

/// After the commit: to the room and the members' other sockets, as a new message.
pub fn deliver(state: &AppState, message: Option<&Message>) {
    deliver_at(state, message, None);
}

/// `deliver`, stamped with the removal epoch the line was written under (a
/// removal's own line reaches the removed member; see `FanoutEvent::removal_epoch`).
pub fn deliver_at(state: &AppState, message: Option<&Message>, removal_epoch: Option<i64>) {
    if let Some(message) = message {
        state.metrics.messages_persisted.inc();
        messages::publish_new_at(state, message, removal_epoch);
    }
}

/// The line of a call that just ended: "Missed voice call" (rang out, or
/// every callee rejected) or "Voice call, 2:05" (answered), sent by the caller.
pub async fn record_call_end(
    conn: &mut PgConnection,
    call: &CallRecord,
) -> AppResult<Option<Message>> {
    let media = serde_json::to_value(call.media)
        .ok()
        .and_then(|m| m.as_str().map(str::to_owned))
        .unwrap_or_default();
    let event = match (call.status, call.answered_at, call.ended_at) {
        (CallStatus::Completed, Some(answered_at), Some(ended_at)) => SystemEvent::CallEnded {
            actor_id: call.initiator_id.clone(),
            call_id: call.id,
            media,
            duration_secs: (ended_at - answered_at).num_seconds().max(0),
            ended_at,
        },
        (CallStatus::Missed | CallStatus::Rejected, _, _) => SystemEvent::CallMissed {
            actor_id: call.initiator_id.clone(),
            call_id: call.id,
            media,
        },
        _ => return Ok(None),
    };
    record(conn, call.conversation_id, call.initiator_user_id, &event).await
}
