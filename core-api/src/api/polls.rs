use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use shared_types::polls::{CreatePoll, Vote};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::services::polls;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/polls", post(create))
        .route("/polls/{id}", get(get_one))
        .route("/polls/{id}/vote", put(vote).delete(retract))
        .route("/polls/{id}/close", post(close))
}

/// POST /api/v1/conversations/{id}/polls `{question, options, multiple, anonymous, closes_at}`:
/// 201 with `{poll, message}`; the `poll` message goes to the room like any message.
async fn create(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<CreatePoll>,
) -> AppResult<Response> {
    Ok(super::created(polls::create(&state, &me, id, input).await?))
}

/// GET /api/v1/polls/{id}: the poll with its results and the caller's `my_votes`.
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::get(&state, &me, id).await?))
}

/// PUT /api/v1/polls/{id}/vote `{option_ids}`: replaces the caller's vote; 409 once closed.
async fn vote(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<Vote>,
) -> AppResult<Response> {
    Ok(super::ok(
        polls::vote(&state, &me, id, input.option_ids).await?,
    ))
}

/// DELETE /api/v1/polls/{id}/vote: retracts the caller's vote (200 even if there was none).
async fn retract(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::retract(&state, &me, id).await?))
}

/// POST /api/v1/polls/{id}/close: the creator or a group owner/admin.
async fn close(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::close(&state, &me, id).await?))
}
