use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use shared_types::api::{AddMembers, CreateConversation, UpdateConversation, UpdateMemberRole};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::extract::{Json, Path, Query};
use crate::services::messages::{self, ListQuery};
use crate::services::pagination::PageQuery;
use crate::services::{conversations, decorate, groups};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", post(create).get(list))
        .route("/conversations/{id}", get(get_one).patch(rename))
        .route("/conversations/{id}/members", post(add_members))
        .route(
            "/conversations/{id}/members/{user_id}",
            delete(remove_member).patch(set_role),
        )
        .route("/conversations/{id}/leave", post(leave))
        .route("/conversations/{id}/messages", get(list_messages))
}

/// POST /api/v1/conversations: 201 with the new conversation, or 200 with the existing DM.
async fn create(
    State(state): State<AppState>,
    me: AuthUser,
    Json(input): Json<CreateConversation>,
) -> AppResult<Response> {
    let out = conversations::create(&state, &me, input).await?;
    Ok(if out.created {
        super::created(out.conversation)
    } else {
        super::ok(out.conversation)
    })
}

/// GET /api/v1/conversations?cursor=&limit=: mine, most recent activity first.
async fn list(
    State(state): State<AppState>,
    me: AuthUser,
    Query(page): Query<PageQuery>,
) -> AppResult<Response> {
    let (items, pagination) = conversations::list_mine(&state, &me, &page).await?;
    Ok(super::page(items, pagination))
}

/// GET /api/v1/conversations/{id}
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(conversations::get(&state, &me, id).await?))
}

/// PATCH /api/v1/conversations/{id} `{title}`: group owner/admin only.
async fn rename(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<UpdateConversation>,
) -> AppResult<Response> {
    Ok(super::ok(
        groups::rename(&state, &me, id, Some(&input.title)).await?,
    ))
}

/// POST /api/v1/conversations/{id}/members `{member_ids}`
async fn add_members(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<AddMembers>,
) -> AppResult<Response> {
    Ok(super::ok(
        groups::add_members(&state, &me, id, input).await?,
    ))
}

/// DELETE /api/v1/conversations/{id}/members/{user_id}
async fn remove_member(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, user_id)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    Ok(super::ok(
        groups::remove_member(&state, &me, id, &user_id).await?,
    ))
}

/// PATCH /api/v1/conversations/{id}/members/{user_id} `{role}`: owner only.
async fn set_role(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, user_id)): Path<(Uuid, String)>,
    Json(input): Json<UpdateMemberRole>,
) -> AppResult<Response> {
    Ok(super::ok(
        groups::set_role(&state, &me, id, &user_id, input.role).await?,
    ))
}

/// POST /api/v1/conversations/{id}/leave
async fn leave(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(groups::leave(&state, &me, id).await?))
}

/// GET /api/v1/conversations/{id}/messages?cursor=&limit= (newest first) or ?after_seq=N (catch-up, oldest first)
async fn list_messages(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<ListQuery>,
) -> AppResult<Response> {
    let (mut items, pagination) = messages::list(&state, &me, id, &query).await?;
    decorate::messages(&state, &me, &mut items).await?;
    Ok(super::page(items, pagination))
}
