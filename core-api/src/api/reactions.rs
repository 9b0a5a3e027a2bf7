use axum::extract::State;
use axum::response::Response;
use shared_types::reactions::MessageReactions;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::Path;
use crate::models::AuthUser;
use crate::services::reactions;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(add, remove))
}

/// React to a message
///
/// One emoji (one grapheme cluster, ≤ 32 bytes), percent-encoded in the path.
#[utoipa::path(
    put, path = "/messages/{id}/reactions/{emoji}", operation_id = "addReaction", tag = "reactions",
    params(
        ("id" = Uuid, Path, description = "Message id"),
        ("emoji" = String, Path, description = "The emoji, percent-encoded (`%F0%9F%91%8D` for 👍)"),
    ),
    responses(
        (status = 201, description = "Added; the message's reactions", body = Data<MessageReactions>),
        (status = 200, description = "The caller had it already", body = Data<MessageReactions>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such message"),
        (status = 409, description = "A 21st different emoji, or a deleted message"),
        (status = 422, description = "Not one emoji"),
    ),
)]
async fn add(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, emoji)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    let (reactions, added) = reactions::add(&state, &me, id, &emoji).await?;
    Ok(if added {
        super::created(reactions)
    } else {
        super::ok(reactions)
    })
}

/// Remove my reaction
///
/// 200 whether or not it was there.
#[utoipa::path(
    delete, path = "/messages/{id}/reactions/{emoji}", operation_id = "removeReaction", tag = "reactions",
    params(
        ("id" = Uuid, Path, description = "Message id"),
        ("emoji" = String, Path, description = "The emoji, percent-encoded (`%F0%9F%91%8D` for 👍)"),
    ),
    responses(
        (status = 200, description = "The message's reactions", body = Data<MessageReactions>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such message"),
        (status = 409, description = "A deleted message"),
        (status = 422, description = "Not one emoji"),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, emoji)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    Ok(super::ok(reactions::remove(&state, &me, id, &emoji).await?))
}
