use axum::extract::State;
use axum::response::Response;
use shared_types::api::{EditMessage, Message, SendMessage};
use shared_types::socket::ReceiptKind;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::repositories::receipts::StatusRow;
use crate::services::receipts::{self, ReceiptView};
use crate::services::{decorate, messages};
use crate::spec::{Data, List};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send))
        .routes(routes!(get_one, edit, remove))
        .routes(routes!(read))
        .routes(routes!(delivered))
        .routes(routes!(status))
}

/// Send a message
///
/// Stored with the conversation's next `seq` and pushed to its members. A
/// retry with the same `client_msg_id` answers the original (200) and stores
/// nothing. Text needs `content` (≤ 4000 characters); image, file and voice
/// need an `attachment`; polls have their own route.
#[utoipa::path(
    post, path = "/messages", operation_id = "sendMessage", tag = "messages",
    request_body = SendMessage,
    responses(
        (status = 201, description = "Stored", body = Data<Message>),
        (status = 200, description = "A retry: the original message", body = Data<Message>),
        (status = 403, description = "Not a member of the conversation"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "Breaks a send rule, or `reply_to_id` is not a message of the conversation"),
    ),
)]
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

/// Get a message
#[utoipa::path(
    get, path = "/messages/{id}", operation_id = "getMessage", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = Data<Message>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such message"),
    ),
)]
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let message = messages::get(&state, &me, id).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// Edit a message
///
/// The sender edits the content of a text message that is not deleted.
#[utoipa::path(
    patch, path = "/messages/{id}", operation_id = "editMessage", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    request_body = EditMessage,
    responses(
        (status = 200, description = "The edited message", body = Data<Message>),
        (status = 403, description = "Not the sender, or not a member"),
        (status = 404, description = "No such message"),
        (status = 409, description = "The message is deleted"),
        (status = 422, description = "Bad content, or not a text message"),
    ),
)]
async fn edit(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<EditMessage>,
) -> AppResult<Response> {
    let message = messages::edit(&state, &me, id, &input.content).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// Delete a message
///
/// The sender, or a group owner/admin. The message stays as a tombstone
/// (`content` null, `deleted_at` set) so catch-up has no gap.
#[utoipa::path(
    delete, path = "/messages/{id}", operation_id = "deleteMessage", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "The tombstone", body = Data<Message>),
        (status = 403, description = "Neither the sender nor a group owner/admin"),
        (status = 404, description = "No such message"),
    ),
)]
async fn remove(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let message = messages::delete(&state, &me, id).await?;
    Ok(super::ok(decorate::message(&state, &me, message).await?))
}

/// Mark a message read
///
/// Also marks it delivered and moves the caller's read mark (unread counts);
/// the sender's devices get `message_status`.
#[utoipa::path(
    post, path = "/messages/{id}/read", operation_id = "markRead", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "The caller's receipt", body = Data<ReceiptView>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such message"),
        (status = 422, description = "Your own message"),
    ),
)]
async fn read(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(
        receipts::mark(&state, &me, None, id, ReceiptKind::Read).await?,
    ))
}

/// Mark a message delivered
#[utoipa::path(
    post, path = "/messages/{id}/delivered", operation_id = "markDelivered", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "The caller's receipt", body = Data<ReceiptView>),
        (status = 403, description = "Not a member of its conversation"),
        (status = 404, description = "No such message"),
        (status = 422, description = "Your own message"),
    ),
)]
async fn delivered(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(
        receipts::mark(&state, &me, None, id, ReceiptKind::Delivered).await?,
    ))
}

/// A message's receipts
///
/// Delivery and read times of every other member; for the sender only.
#[utoipa::path(
    get, path = "/messages/{id}/status", operation_id = "getMessageStatus", tag = "messages",
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "One entry per recipient", body = List<StatusRow>),
        (status = 403, description = "Not the sender"),
        (status = 404, description = "No such message"),
    ),
)]
async fn status(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(receipts::status(&state, &me, id).await?))
}
