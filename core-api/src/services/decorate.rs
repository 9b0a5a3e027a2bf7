//! What REST message answers carry beyond the stored row: the poll a `poll`
//! message announces, and reactions as the caller sees them. Live events and
//! conversation previews go without (two queries per answer, not per event).

use shared_types::api::Message;

use crate::error::AppResult;
use crate::models::AuthUser;
use crate::services::{polls, reactions};
use crate::state::AppState;

pub async fn messages(state: &AppState, me: &AuthUser, messages: &mut [Message]) -> AppResult<()> {
    polls::attach_ids(state, messages).await?;
    reactions::attach(state, me, messages).await
}

pub async fn message(state: &AppState, me: &AuthUser, mut message: Message) -> AppResult<Message> {
    messages(state, me, std::slice::from_mut(&mut message)).await?;
    Ok(message)
}

/// A message just stored has no reactions yet: no query for the common send.
pub fn fresh(mut message: Message) -> Message {
    message.reactions = Some(Vec::new());
    message
}
