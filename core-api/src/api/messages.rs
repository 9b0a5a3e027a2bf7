use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use shared_types::api::{EditMessage, SendMessage};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::services::receipts::{self, Receipt};
use crate::services::{decorate, messages};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", post(send))
        .route("/messages/{id}", get(get_one).patch(edit).delete(remove))
        .route("/messages/{id}/read", post(read))
        .route("/messages/{id}/delivered", post(delivered))
        .route("/messages/{id}/status", get(status))
}

/// POST /api/v1/messages: 201 with the stored message; 200 with the original for a retried `client_msg_id`.
async fn send(
    State(state): State<AppState>,
    me: AuthUser,
    Json(input): Json<SendMessage>,
) -> AppResult<Response> {
    let sent = messages::send(&state, &me, input).await?;
    Ok(if sent.created {
        super::created(decorate::fresh(sent.message))
    } else {
        super::ok(decorate::message(&state, &me, sent.message).await?)
    })
}

/// GET /api/v1/messages/{id}
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let message = messages::get(&state, &me, id).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// PATCH /api/v1/messages/{id} `{content}`: the sender edits a text message.
async fn edit(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<EditMessage>,
) -> AppResult<Response> {
    let message = messages::edit(&state, &me, id, &input.content).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// DELETE /api/v1/messages/{id}: soft delete; the tombstone stays for catch-up.
async fn remove(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let message = messages::delete(&state, &me, id).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// POST /api/v1/messages/{id}/read: marks it read (and delivered), moving the read mark.
async fn read(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(
        receipts::mark(&state, &me, None, id, Receipt::Read).await?,
    ))
}

/// POST /api/v1/messages/{id}/delivered
async fn delivered(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(
        receipts::mark(&state, &me, None, id, Receipt::Delivered).await?,
    ))
}

/// GET /api/v1/messages/{id}/status: per-recipient delivery and read times, for the sender.
async fn status(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(receipts::status(&state, &me, id).await?))
}
