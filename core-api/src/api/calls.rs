use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use shared_types::calls::StartCall;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::{Json, Path, Query};
use crate::services::calls::{self, Act};
use crate::services::pagination::PageQuery;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}/calls", post(start).get(history))
        .route("/calls/{id}", get(get_one))
        .route("/calls/{id}/{action}", post(act))
}

/// POST /api/v1/conversations/{id}/calls `{type: voice|video}`: 201 with the
/// ringing call; its other members' `/calls` sockets get `call_invite`.
/// 409 `BUSY` when the caller, or every callee, is in another call.
async fn start(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<StartCall>,
) -> AppResult<Response> {
    Ok(super::created(
        calls::start(&state, &me, id, input.media).await?,
    ))
}

/// GET /api/v1/conversations/{id}/calls?cursor=&limit=: the history, newest first.
async fn history(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> AppResult<Response> {
    let (items, pagination) = calls::history(&state, &me, id, &page).await?;
    Ok(super::page(items, pagination))
}

/// GET /api/v1/calls/{id}: the call with its participants.
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(calls::get(&state, &me, id).await?))
}

/// POST /api/v1/calls/{id}/{accept|reject|leave|end}: the call after the change.
async fn act(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, action)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    let act = parse_act(&action)?;
    Ok(super::ok(calls::act(&state, &me, id, act).await?))
}

/// The action of `/calls/{id}/{action}` (REST and internal routes alike).
pub(crate) fn parse_act(action: &str) -> AppResult<Act> {
    match action {
        "accept" => Ok(Act::Accept),
        "reject" => Ok(Act::Reject),
        "leave" => Ok(Act::Leave),
        "end" => Ok(Act::End),
        _ => Err(AppError::not_found("call action")),
    }
}
