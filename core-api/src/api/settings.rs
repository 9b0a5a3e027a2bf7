use axum::extract::State;
use axum::response::Response;
use shared_types::settings::{ConversationSettings, UpdateConversationSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::services::settings;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, update_settings))
}

/// My settings of a conversation
///
/// Notification level, mute, pin and archive: the caller's own, for one
/// conversation they are a member of.
#[utoipa::path(
    get, path = "/conversations/{id}/settings", operation_id = "getConversationSettings",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The caller's settings", body = Data<ConversationSettings>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
async fn get_settings(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(settings::get(&state, &me, id).await?))
}

/// Change my settings of a conversation
///
/// Only the fields given change (`"muted_until": null` unmutes). Every
/// socket of the caller gets `conversation_settings_updated` on
/// `/notifications`, so their other devices follow.
#[utoipa::path(
    patch, path = "/conversations/{id}/settings", operation_id = "updateConversationSettings",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = UpdateConversationSettings,
    responses(
        (status = 200, description = "The settings now", body = Data<ConversationSettings>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "No field given, an unknown field, or a bad value"),
    ),
)]
async fn update_settings(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<UpdateConversationSettings>,
) -> AppResult<Response> {
    Ok(super::ok(settings::update(&state, &me, id, input).await?))
}
