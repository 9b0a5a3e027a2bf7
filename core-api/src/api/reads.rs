use axum::extract::State;
use axum::response::Response;
use shared_types::sync::{ConversationRead, ReadUpTo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path};
use crate::models::AuthUser;
use crate::services::reads;
use crate::spec::{Data, List};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_up_to))
        .routes(routes!(read_all))
}

/// Mark read up to a seq
///
/// Moves the caller's read mark to `seq` (never back; a `seq` above the
/// conversation's last is its last) and marks every message of others up to
/// it read, in one statement. Every socket of the caller gets
/// `conversation_read`; each sender's sockets get `message_status` for their
/// messages now read.
#[utoipa::path(
    post, path = "/conversations/{id}/read", operation_id = "markConversationRead",
    tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = ReadUpTo,
    responses(
        (status = 200, description = "The caller's read state after the mark", body = Data<ConversationRead>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "`seq` below 0"),
    ),
)]
async fn read_up_to(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<ReadUpTo>,
) -> AppResult<Response> {
    Ok(super::ok(
        reads::read_up_to(&state, &me, id, input.seq).await?,
    ))
}

/// Mark every conversation read
///
/// Every conversation of the caller with unread messages is marked read up
/// to its last message, as `POST /conversations/{id}/read` would; the answer
/// lists the conversations that changed.
#[utoipa::path(
    post, path = "/conversations/read-all", operation_id = "markAllConversationsRead",
    tag = "conversations",
    responses(
        (status = 200, description = "The read state of each conversation that changed", body = List<ConversationRead>),
    ),
)]
async fn read_all(State(state): State<AppState>, me: AuthUser) -> AppResult<Response> {
    Ok(super::ok(reads::read_all(&state, &me).await?))
}
