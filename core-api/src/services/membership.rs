//! Who may see and touch a conversation. Every conversation-scoped route and
//! internal call goes through here.

use redis::AsyncCommands;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::models::conversation::MemberRow;
use crate::repositories::conversations as repo;
use crate::state::AppState;

/// The seed's membership cache TTL.
pub const MEMBERS_CACHE_TTL_SECS: u64 = 900;
/// Keeps the cached set non-empty, so "cached with no members" differs from "not cached".
const SENTINEL: &str = "";

fn members_key(conversation_id: Uuid) -> String {
    format!("conversation:{conversation_id}:members")
}

/// The caller's membership, or 404 for a conversation that does not exist and
/// 403 for one the caller is not in.
pub async fn require_member(
    state: &AppState,
    conversation_id: Uuid,
    user: &AuthUser,
) -> AppResult<MemberRow> {
    if let Some(m) = repo::member(&state.db, conversation_id, user.user_id).await? {
        return Ok(m);
    }
    if repo::exists(&state.db, conversation_id).await? {
        Err(AppError::forbidden(
            "you are not a member of this conversation",
        ))
    } else {
        Err(AppError::not_found("conversation"))
    }
}

/// Membership by TMS id through the Redis set `conversation:{id}:members`.
pub async fn is_member(
    state: &AppState,
    conversation_id: Uuid,
    tms_user_id: &str,
) -> AppResult<bool> {
    let key = state.cache.key(&members_key(conversation_id));
    let mut conn = state.cache.connection();
    let (cached, exists): (bool, bool) = redis::pipe()
        .sismember(&key, tms_user_id)
        .exists(&key)
        .query_async(&mut conn)
        .await?;
    if exists {
        return Ok(cached);
    }
    let members = repo::member_tms_ids(&state.db, conversation_id).await?;
    let is_member = members.iter().any(|m| m == tms_user_id);
    let mut pipe = redis::pipe();
    pipe.sadd(&key, SENTINEL).ignore();
    if !members.is_empty() {
        pipe.sadd(&key, &members).ignore();
    }
    pipe.expire(&key, MEMBERS_CACHE_TTL_SECS as i64).ignore();
    pipe.query_async::<()>(&mut conn).await?;
    Ok(is_member)
}

/// Called after any membership change.
pub async fn invalidate(state: &AppState, conversation_id: Uuid) -> AppResult<()> {
    let mut conn = state.cache.connection();
    let _: i64 = conn
        .del(state.cache.key(&members_key(conversation_id)))
        .await?;
    Ok(())
}
