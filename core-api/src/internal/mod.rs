//! `/internal/v1`: the edge's calls into core. Every route sits behind the
//! HMAC check; the acting user comes from the signed header.

mod calls;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use shared_types::internal::{
    MarkReceipt, MemberCheck, Membership, NotifyPrune, NotifyPruned, PersistBatch, PersistMessage,
    PersistedBatch, PersistedMessage, PresenceReport, MAX_BATCHED_SENDS, MAX_GATEWAY_NAME_BYTES,
};
use shared_types::socket::ReceiptKind;
use shared_types::{Envelope, ErrorCode};
use uuid::Uuid;

use crate::api;
use crate::auth::internal::{require_signature, InternalCaller};
use crate::error::{AppError, AppResult};
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::rate_limit::LimitKind;
use crate::services::receipts;
use crate::services::{
    deny_list, membership, notify_gateways, presence, removal_epochs, socket_sends, users,
};
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/messages", post(persist_message))
        .route("/messages/batch", post(persist_batch))
        .route("/conversations/{id}/membership", get(check_membership))
        .route("/conversations/{id}/members/check", post(check_members))
        .route("/conversations/{id}/gateways/prune", post(prune_gateway))
        .route("/receipts/{kind}", post(mark_receipt))
        .route("/presence", post(report_presence))
        .route("/denied-users", get(denied_users))
        .merge(calls::router())
        .route_layer(middleware::from_fn_with_state(state, require_signature))
}

/// A system call from the edge: one signed with an acting user is refused, so a
/// request made on a user's behalf can never pass for a gateway's report.
struct SystemCall;

impl FromRequestParts<AppState> for SystemCall {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<InternalCaller>() {
            Some(InternalCaller { acting_user: None }) => Ok(SystemCall),
            _ => Err(AppError::new(
                ErrorCode::InternalAuthFailed,
                "internal authentication failed",
            )),
        }
    }
}

/// The user the edge acts for; system calls without one are refused here.
struct ActingUser(AuthUser);

impl FromRequestParts<AppState> for ActingUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let tms_user_id = parts
            .extensions
            .get::<InternalCaller>()
            .and_then(|c| c.acting_user.clone())
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::InternalAuthFailed,
                    "internal authentication failed",
                )
            })?;
        deny_list::check_user(state, &tms_user_id).await?;
        let user_id = users::local_id(state, &tms_user_id).await?;
        Ok(ActingUser(AuthUser {
            tms_user_id,
            user_id,
        }))
    }
}

/// POST /internal/v1/messages: persist a socket send; answers after commit.
/// Over the user's socket-send limit: 429 `RATE_LIMITED`, nothing stored
/// (the edge puts the error, with `details.retry_after_ms`, in the ack).
async fn persist_message(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Json(input): Json<PersistMessage>,
) -> AppResult<Response> {
    let sent = socket_sends::send(&state, &me.tms_user_id, input.message).await?;
    let body = PersistedMessage {
        message: sent.message,
        created: sent.created,
    };
    Ok(if sent.created {
        api::created(body)
    } else {
        api::ok(body)
    })
}

/// POST /internal/v1/messages/batch: a gateway's queued socket sends (a
/// system call; each send names its verified sender). 200 with one envelope
/// per send, in order, once every send is committed or refused.
async fn persist_batch(
    State(state): State<AppState>,
    _: SystemCall,
    Json(batch): Json<PersistBatch>,
) -> AppResult<Response> {
    if batch.sends.len() > MAX_BATCHED_SENDS {
        return Err(AppError::validation(format!(
            "at most {MAX_BATCHED_SENDS} sends in a batch"
        )));
    }
    let results = socket_sends::send_batch(&state, batch.sends)
        .await
        .into_iter()
        .map(|answer| match answer {
            Ok(sent) => Envelope::ok(PersistedMessage {
                message: sent.message,
                created: sent.created,
            }),
            Err(e) => Envelope::failure(e.logged_body()),
        })
        .collect();
    Ok(api::ok(PersistedBatch { results }))
}

/// GET /internal/v1/conversations/{id}/membership: may the acting user join this room?
async fn check_membership(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    state
        .limits
        .enforce(&me.tms_user_id, LimitKind::SocketJoin)
        .await?;
    // the epoch first: the membership read after it is at least as new
    let removal_epoch = removal_epochs::current(&state, id).await?;
    let is_member = membership::is_member(&state, id, &me.tms_user_id).await?;
    Ok(api::ok(Membership {
        conversation_id: id,
        user_id: me.tms_user_id,
        is_member,
        removal_epoch,
    }))
}

/// POST /internal/v1/conversations/{id}/members/check: which of a gateway's
/// users are still members (a system call; see `removal_epochs`).
async fn check_members(
    State(state): State<AppState>,
    _: SystemCall,
    Path(id): Path<Uuid>,
    Json(input): Json<MemberCheck>,
) -> AppResult<Response> {
    Ok(api::ok(removal_epochs::check(&state, id, input).await?))
}

/// POST /internal/v1/conversations/{id}/gateways/prune: a gateway holds no
/// member of the conversation as of the registration stamp it names (a
/// system call; see `notify_gateways`).
async fn prune_gateway(
    State(state): State<AppState>,
    _: SystemCall,
    Path(id): Path<Uuid>,
    Json(input): Json<NotifyPrune>,
) -> AppResult<Response> {
    if input.gateway.is_empty() || input.gateway.len() > MAX_GATEWAY_NAME_BYTES {
        return Err(AppError::validation(format!(
            "gateway must be 1 to {MAX_GATEWAY_NAME_BYTES} bytes"
        )));
    }
    let removed = notify_gateways::prune(&state.cache, id, &input.gateway, input.stamp).await?;
    Ok(api::ok(NotifyPruned { removed }))
}

/// POST /internal/v1/receipts/{read|delivered}: a socket's `message_read` / `message_delivered`.
async fn mark_receipt(
    State(state): State<AppState>,
    ActingUser(me): ActingUser,
    Path(kind): Path<String>,
    Json(input): Json<MarkReceipt>,
) -> AppResult<Response> {
    let receipt = match kind.as_str() {
        "read" => ReceiptKind::Read,
        "delivered" => ReceiptKind::Delivered,
        _ => return Err(AppError::not_found("receipt kind")),
    };
    state
        .limits
        .enforce(&me.tms_user_id, LimitKind::SocketReceipt)
        .await?;
    let view = receipts::mark(
        &state,
        &me,
        Some(input.conversation_id),
        input.message_id,
        receipt,
    )
    .await?;
    Ok(api::ok(view))
}

/// POST /internal/v1/presence: a gateway's batch of arrivals, departures and present users.
async fn report_presence(
    State(state): State<AppState>,
    _: SystemCall,
    Json(report): Json<PresenceReport>,
) -> AppResult<Response> {
    Ok(api::ok(presence::report(&state, report).await?))
}

/// GET /internal/v1/denied-users: the users TMS deleted whose tokens may still
/// live, for the edge's per-isolate copy (a system call).
async fn denied_users(State(state): State<AppState>, _: SystemCall) -> AppResult<Response> {
    Ok(api::ok(deny_list::list(&state).await?))
}
