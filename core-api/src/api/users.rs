use axum::extract::State;
use axum::response::Response;
use shared_types::api::{BatchUsers, UserProfile};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, AppResult};
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::services::users;
use crate::spec::{Data, List};
use crate::state::AppState;

const MAX_BATCH: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(batch))
        .routes(routes!(one))
}

/// Get a user's profile
///
/// From TMS through the Redis cache; a stale copy is served while TMS is down.
#[utoipa::path(
    get, path = "/users/{id}", operation_id = "getUser", tag = "users",
    params(("id" = String, Path, description = "TMS user id")),
    responses(
        (status = 200, description = "The profile", body = Data<UserProfile>),
        (status = 404, description = "TMS does not know this user"),
    ),
)]
async fn one(
    State(state): State<AppState>,
    _: AuthUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    users::check_ids(&[&id], "id")?;
    let profile = users::profile(&state, &id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    Ok(super::ok(profile))
}

/// Get several profiles
///
/// 1 to 200 ids; answers the known ones in the order asked, with one TMS call at most.
#[utoipa::path(
    post, path = "/users/batch", operation_id = "getUsers", tag = "users",
    request_body = BatchUsers,
    responses(
        (status = 200, description = "The profiles found", body = List<UserProfile>),
    ),
)]
async fn batch(
    State(state): State<AppState>,
    _: AuthUser,
    Json(input): Json<BatchUsers>,
) -> AppResult<Response> {
    if input.ids.is_empty() || input.ids.len() > MAX_BATCH {
        return Err(AppError::validation(format!(
            "ids must hold 1 to {MAX_BATCH} user ids"
        )));
    }
    users::check_ids(&input.ids, "ids")?;
    let found = users::profiles(&state, &input.ids).await?;
    let ordered: Vec<_> = input
        .ids
        .iter()
        .filter_map(|id| found.get(id).cloned())
        .collect();
    Ok(super::ok(ordered))
}
