//! Removed means removed: the conversation's removal epoch (raised by every
//! removal and leave) tells a gateway when its sockets' memberships must be
//! checked again before a room event reaches them (`FanoutEvent::removal_epoch`).

use shared_types::internal::{MemberCheck, MemberCheckAnswer, MAX_MEMBER_CHECK_USERS};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::repositories::removals;
use crate::state::AppState;

/// The conversation's removal epoch now (0 for one that does not exist: a
/// join to it is refused anyway).
pub async fn current(state: &AppState, conversation_id: Uuid) -> AppResult<i64> {
    let rows = removals::epochs(&state.db, &[conversation_id]).await?;
    Ok(rows.first().map_or(0, |(_, epoch)| *epoch))
}

/// Which of the asked users are members now, with the epoch of that reading.
/// Read from Postgres, not the cache: this is the check that catches a lost
/// eviction, so it must not trust a cache that missed an invalidation too.
pub async fn check(
    state: &AppState,
    conversation_id: Uuid,
    input: MemberCheck,
) -> AppResult<MemberCheckAnswer> {
    if input.user_ids.is_empty() || input.user_ids.len() > MAX_MEMBER_CHECK_USERS {
        return Err(AppError::validation(format!(
            "user_ids must hold 1 to {MAX_MEMBER_CHECK_USERS} ids"
        )));
    }
    let (removal_epoch, members) =
        removals::members_among(&state.db, conversation_id, &input.user_ids)
            .await?
            .ok_or_else(|| AppError::not_found("conversation"))?;
    Ok(MemberCheckAnswer {
        removal_epoch,
        members,
    })
}
