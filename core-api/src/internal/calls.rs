//! `/internal/v1/calls`: the `/calls` socket events, sent by the edge on the
//! acting user's behalf. Same services as the public routes; core checks
//! membership and participation on every one.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use shared_types::calls::{InviteCall, Signal};
use uuid::Uuid;

use super::ActingUser;
use crate::api;
use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::services::calls;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calls", post(invite))
        .route("/calls/{id}/signal", post(signal))
        .route("/calls/{id}/{action}", post(act))
}

/// POST /internal/v1/calls `{conversation_id, type}`: a socket's `call_invite`.
async fn invite(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Json(input): Json<InviteCall>,
) -> AppResult<Response> {
    limit(&state, &me).await?;
    let call = calls::start(&state, &me, input.conversation_id, input.media).await?;
    Ok(api::created(call))
}

/// POST /internal/v1/calls/{id}/{accept|reject|leave|end}.
async fn act(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Path((id, action)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    limit(&state, &me).await?;
    let act = api::calls::parse_act(&action)?;
    Ok(api::ok(calls::act(&state, &me, id, act).await?))
}

/// POST /internal/v1/calls/{id}/signal `{to_user_id, kind, payload}`: relayed
/// to the addressed participant's `/calls` sockets.
async fn signal(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Path(id): Path<Uuid>,
    Json(input): Json<Signal>,
) -> AppResult<Response> {
    limit(&state, &me).await?;
    Ok(api::ok(calls::signal(&state, &me, id, input).await?))
}

/// The user's socket call-event limit (`RATE_LIMIT_SOCKET_CALL_EVENTS_PER_SECOND`).
async fn limit(state: &AppState, me: &crate::models::AuthUser) -> AppResult<()> {
    state
        .limits
        .enforce(&me.tms_user_id, crate::rate_limit::LimitKind::SocketCall)
        .await
        .map(|_| ())
}
