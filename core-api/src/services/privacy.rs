//! A conversation's privacy settings, the same for every member: whether
//! push requests for its messages carry a preview. Any member reads them; a
//! group's owner or admins change them (either member of a DM).

use shared_types::settings::ConversationPrivacy;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::models::conversation::DbConversationKind;
use crate::models::AuthUser;
use crate::repositories::{conversations as conversations_repo, push as repo};
use crate::services::membership;
use crate::state::AppState;

pub async fn get(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
) -> AppResult<ConversationPrivacy> {
    membership::require_member(state, conversation_id, me).await?;
    let info = repo::conversation(&state.db, conversation_id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    Ok(ConversationPrivacy {
        push_previews: info.push_previews,
    })
}

pub async fn set(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    input: ConversationPrivacy,
) -> AppResult<ConversationPrivacy> {
    let caller = membership::require_member(state, conversation_id, me).await?;
    let kind = conversations_repo::kind(&state.db, conversation_id).await?;
    if kind == Some(DbConversationKind::Group) && !caller.can_administer() {
        return Err(AppError::forbidden(
            "only group owners and admins change a group's privacy settings",
        ));
    }
    if !repo::set_push_previews(&state.db, conversation_id, input.push_previews).await? {
        return Err(AppError::not_found("conversation"));
    }
    Ok(input)
}
