//! Calls: start one in a conversation, act on it, read it, the history and my call log.

use axum::extract::State;
use axum::response::Response;
use shared_types::calls::{Call, StartCall};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::extract::{Json, Path, Query};
use crate::models::AuthUser;
use crate::services::calls::{self, Act};
use crate::services::pagination::PageQuery;
use crate::spec::{Data, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start, history))
        .routes(routes!(call_log))
        .routes(routes!(get_one))
        .routes(routes!(act))
}

/// Start a call
///
/// Rings the conversation's other members: their `/calls` sockets get
/// `call_invite`. A callee already ringing or in a call is marked `busy` and
/// not rung; 409 `BUSY` (with `details.busy_user_ids`) when the caller, or
/// every callee, is in another call, and nothing is stored.
#[utoipa::path(
    post, path = "/conversations/{id}/calls", operation_id = "startCall", tag = "calls",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = StartCall,
    responses(
        (status = 201, description = "The ringing call", body = Data<Call>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
        (status = 409, description = "`BUSY`: the caller or every callee is in another call"),
    ),
)]
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

/// Call history of a conversation
///
/// Newest first, with cursor pagination; any member may read it.
#[utoipa::path(
    get, path = "/conversations/{id}/calls", operation_id = "listCalls", tag = "calls",
    params(("id" = Uuid, Path, description = "Conversation id"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<Call>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
async fn history(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> AppResult<Response> {
    let (items, pagination) = calls::history(&state, &me, id, &page).await?;
    Ok(super::page(items, pagination))
}

/// My call log
///
/// Every call the caller took part in (as caller or callee), in every
/// conversation, newest first, with cursor pagination; each with its
/// participants, status, times and duration, as `GET /calls/{id}`.
#[utoipa::path(
    get, path = "/calls", operation_id = "listMyCalls", tag = "calls",
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<Call>),
        (status = 422, description = "Bad `cursor` or `limit`"),
    ),
)]
async fn call_log(
    State(state): State<AppState>,
    me: AuthUser,
    Query(page): Query<PageQuery>,
) -> AppResult<Response> {
    let (items, pagination) = calls::log(&state, &me, &page).await?;
    Ok(super::page(items, pagination))
}

/// Get a call
///
/// With its participants, their statuses and the duration once answered and ended.
#[utoipa::path(
    get, path = "/calls/{id}", operation_id = "getCall", tag = "calls",
    params(("id" = Uuid, Path, description = "Call id")),
    responses(
        (status = 200, description = "The call", body = Data<Call>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such call"),
    ),
)]
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(calls::get(&state, &me, id).await?))
}

/// Accept, reject, leave or end a call
///
/// Participants only. Answers the call after the change; a repeated action
/// answers 200 with the call unchanged and announces nothing.
#[utoipa::path(
    post, path = "/calls/{id}/{action}", operation_id = "actOnCall", tag = "calls",
    params(
        ("id" = Uuid, Path, description = "Call id"),
        ("action" = String, Path, description = "`accept`, `reject`, `leave` or `end`"),
    ),
    responses(
        (status = 200, description = "The call after the change", body = Data<Call>),
        (status = 403, description = "Not a participant"),
        (status = 404, description = "No such call or action"),
        (status = 409, description = "Not possible in the call's state (e.g. the caller rejecting)"),
    ),
)]
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
