//! A member's own settings of a conversation: notification level, mute,
//! pin, archive. Only the member reads and changes them; their devices hear
//! of a change (`conversation_settings_updated` on `/notifications`).

use shared_types::settings::{ConversationSettings, UpdateConversationSettings};
use shared_types::socket::{server_events, NS_NOTIFICATIONS};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::settings::SettingsChange;
use crate::models::AuthUser;
use crate::repositories::settings as repo;
use crate::services::membership;
use crate::state::AppState;

pub async fn get(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
) -> AppResult<ConversationSettings> {
    membership::require_member(state, conversation_id, me).await?;
    repo::get(&state.db, conversation_id, me.user_id)
        .await?
        .map(Into::into)
        .ok_or_else(|| AppError::forbidden("you are not a member of this conversation"))
}

pub async fn update(
    state: &AppState,
    me: &AuthUser,
    conversation_id: Uuid,
    input: UpdateConversationSettings,
) -> AppResult<ConversationSettings> {
    input.check().map_err(AppError::validation)?;
    membership::require_member(state, conversation_id, me).await?;
    let change = SettingsChange {
        notification_level: input.notification_level.map(Into::into),
        muted_until: input.muted_until,
        pinned: input.pinned,
        archived: input.archived,
    };
    // removed meanwhile: the update finds no row
    let settings: ConversationSettings =
        repo::update(&state.db, conversation_id, me.user_id, &change)
            .await?
            .ok_or_else(|| AppError::forbidden("you are not a member of this conversation"))?
            .into();
    state.fanout.publish(Push::to_users(
        conversation_id.to_string(),
        vec![me.tms_user_id.clone()],
        NS_NOTIFICATIONS,
        server_events::CONVERSATION_SETTINGS_UPDATED,
        serde_json::to_value(&settings).unwrap_or_default(),
    ));
    Ok(settings)
}
