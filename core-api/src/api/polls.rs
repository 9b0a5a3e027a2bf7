use axum::extract::State;
use axum::response::Response;
use shared_types::polls::{CreatePoll, CreatedPoll, Poll, Vote};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::services::polls;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(get_one))
        .routes(routes!(vote, retract))
        .routes(routes!(close))
}

/// Create a poll
///
/// Posted as a message of type `poll` (its `content` is the question), which
/// goes to the room like any message. Question ≤ 300 characters, 2 to 10
/// distinct options of ≤ 100 characters, `closes_at` in the future.
#[utoipa::path(
    post, path = "/conversations/{id}/polls", operation_id = "createPoll", tag = "polls",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = CreatePoll,
    responses(
        (status = 201, description = "The poll and the message announcing it", body = Data<CreatedPoll>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
async fn create(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<CreatePoll>,
) -> AppResult<Response> {
    Ok(super::created(polls::create(&state, &me, id, input).await?))
}

/// Get a poll with its results
///
/// With the caller's `my_votes`; `voters` is absent on anonymous polls.
#[utoipa::path(
    get, path = "/polls/{id}", operation_id = "getPoll", tag = "polls",
    params(("id" = Uuid, Path, description = "Poll id")),
    responses(
        (status = 200, description = "The poll", body = Data<Poll>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such poll"),
    ),
)]
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::get(&state, &me, id).await?))
}

/// Vote
///
/// The caller's whole choice, replacing any earlier vote; one option unless
/// the poll is `multiple`.
#[utoipa::path(
    put, path = "/polls/{id}/vote", operation_id = "vote", tag = "polls",
    params(("id" = Uuid, Path, description = "Poll id")),
    request_body = Vote,
    responses(
        (status = 200, description = "The poll after the vote", body = Data<Poll>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such poll"),
        (status = 409, description = "The poll is closed"),
        (status = 422, description = "No option, a repeated one, one of another poll, or several on a single-choice poll"),
    ),
)]
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

/// Retract my vote
///
/// 200 even if there was none.
#[utoipa::path(
    delete, path = "/polls/{id}/vote", operation_id = "retractVote", tag = "polls",
    params(("id" = Uuid, Path, description = "Poll id")),
    responses(
        (status = 200, description = "The poll after the retraction", body = Data<Poll>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such poll"),
        (status = 409, description = "The poll is closed"),
    ),
)]
async fn retract(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::retract(&state, &me, id).await?))
}

/// Close a poll
///
/// The creator or a group owner/admin; closing a closed poll answers it unchanged.
#[utoipa::path(
    post, path = "/polls/{id}/close", operation_id = "closePoll", tag = "polls",
    params(("id" = Uuid, Path, description = "Poll id")),
    responses(
        (status = 200, description = "The closed poll", body = Data<Poll>),
        (status = 403, description = "Neither the creator nor a group owner/admin"),
        (status = 404, description = "No such poll"),
    ),
)]
async fn close(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(polls::close(&state, &me, id).await?))
}
