use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use shared_types::api::BatchUsers;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::{Json, Path};
use crate::services::users;
use crate::state::AppState;

const MAX_BATCH: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/batch", post(batch))
        .route("/users/{id}", get(one))
}

/// GET /api/v1/users/{id}: a TMS profile through the cache.
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

/// POST /api/v1/users/batch `{ids}`: profiles of the known ids, in one TMS call at most.
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
