use axum::extract::State;
use axum::response::Response;
use shared_types::settings::ConversationPrivacy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::services::privacy;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_privacy, set_privacy))
}

/// A conversation's privacy settings
///
/// The same for every member: with `push_previews` off, push requests for
/// its messages carry no text (`preview: null`).
#[utoipa::path(
    get, path = "/conversations/{id}/privacy", operation_id = "getConversationPrivacy",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation's privacy settings", body = Data<ConversationPrivacy>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
async fn get_privacy(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(privacy::get(&state, &me, id).await?))
}

/// Change a conversation's privacy settings
///
/// A group's owner or admins; either member of a DM.
#[utoipa::path(
    put, path = "/conversations/{id}/privacy", operation_id = "setConversationPrivacy",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = ConversationPrivacy,
    responses(
        (status = 200, description = "The settings now", body = Data<ConversationPrivacy>),
        (status = 403, description = "Not a member, or not the group's owner or an admin"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "A missing, unknown or mistyped field"),
    ),
)]
async fn set_privacy(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<ConversationPrivacy>,
) -> AppResult<Response> {
    Ok(super::ok(privacy::set(&state, &me, id, input).await?))
}
