use axum::extract::State;
use axum::response::Response;
use shared_types::api::{
    AddMembers, Conversation, ConversationSummary, CreateConversation, Member, Message,
    UpdateConversation, UpdateMemberRole,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::AppResult;
use crate::extract::{Json, Path, Query};
use crate::models::AuthUser;
use crate::services::conversations::ListQuery as ListConversations;
use crate::services::messages::{self, ListQuery};
use crate::services::pagination::PageQuery;
use crate::services::{conversations, decorate, groups};
use crate::spec::{Data, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, rename))
        .routes(routes!(list_members, add_members))
        .routes(routes!(remove_member, set_role))
        .routes(routes!(leave))
        .routes(routes!(list_messages))
}

/// Create a DM or a group
///
/// A DM names one other member and exists once per pair: asking again
/// answers the existing one with 200. A group needs a title.
#[utoipa::path(
    post, path = "/conversations", operation_id = "createConversation", tag = "conversations",
    request_body = CreateConversation,
    responses(
        (status = 201, description = "Created", body = Data<Conversation>),
        (status = 200, description = "The DM with that user already existed", body = Data<Conversation>),
        (status = 422, description = "Bad members or title, a user TMS does not know (`UNKNOWN_USER`), or more members than `MAX_GROUP_MEMBERS`"),
    ),
)]
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

/// List my conversations
///
/// Pinned first, then most recent activity first, with `unread_count`,
/// `last_message` and the caller's settings of each; archived conversations
/// only with `?archived=true`.
#[utoipa::path(
    get, path = "/conversations", operation_id = "listConversations", tag = "conversations",
    params(ListConversations),
    responses(
        (status = 200, description = "One page", body = Page<ConversationSummary>),
    ),
)]
async fn list(
    State(state): State<AppState>,
    me: AuthUser,
    Query(query): Query<ListConversations>,
) -> AppResult<Response> {
    let (items, pagination) = conversations::list_mine(&state, &me, &query).await?;
    Ok(super::page(items, pagination))
}

/// Get a conversation with its first members and its member count
#[utoipa::path(
    get, path = "/conversations/{id}", operation_id = "getConversation", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = Data<Conversation>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
async fn get_one(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(conversations::get(&state, &me, id).await?))
}

/// Rename a group
///
/// Group owner or admin only.
#[utoipa::path(
    patch, path = "/conversations/{id}", operation_id = "renameConversation", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = UpdateConversation,
    responses(
        (status = 200, description = "The renamed group", body = Data<Conversation>),
        (status = 403, description = "Not a member, or not owner/admin"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "Bad title, or a DM (DMs have no title)"),
    ),
)]
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

/// Add members to a group
///
/// Group owner or admin only; ids that are members already stay as they are.
#[utoipa::path(
    post, path = "/conversations/{id}/members", operation_id = "addMembers", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = AddMembers,
    responses(
        (status = 200, description = "The group with its first members and its member count", body = Data<Conversation>),
        (status = 403, description = "Not a member, or not owner/admin"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "Bad ids, unknown users, a DM, or more members than `MAX_GROUP_MEMBERS` (the message names the limit)"),
    ),
)]
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

/// List a conversation's members
///
/// In join order, with profiles; any member may page them. A conversation's
/// detail carries only its first 100 members and `member_count`.
#[utoipa::path(
    get, path = "/conversations/{id}/members", operation_id = "listMembers", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id"), PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<Member>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "Bad cursor or limit"),
    ),
)]
async fn list_members(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> AppResult<Response> {
    let (items, pagination) = conversations::members_page(&state, &me, id, &page).await?;
    Ok(super::page(items, pagination))
}

/// Remove a member from a group
///
/// Owner or admin; the owner cannot be removed, and only the owner removes
/// an admin. Removing yourself is leaving.
#[utoipa::path(
    delete, path = "/conversations/{id}/members/{user_id}", operation_id = "removeMember", tag = "conversations",
    params(
        ("id" = Uuid, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The member's TMS user id"),
    ),
    responses(
        (status = 200, description = "The group without them", body = Data<Conversation>),
        (status = 403, description = "Not a member, or not allowed to remove them"),
        (status = 404, description = "No such conversation or member"),
        (status = 422, description = "A DM"),
    ),
)]
async fn remove_member(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, user_id)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    Ok(super::ok(
        groups::remove_member(&state, &me, id, &user_id).await?,
    ))
}

/// Set a member's role
///
/// Owner only: `admin` or `member`, for another member (ownership is not
/// handed over this way).
#[utoipa::path(
    patch, path = "/conversations/{id}/members/{user_id}", operation_id = "setMemberRole", tag = "conversations",
    params(
        ("id" = Uuid, Path, description = "Conversation id"),
        ("user_id" = String, Path, description = "The member's TMS user id"),
    ),
    request_body = UpdateMemberRole,
    responses(
        (status = 200, description = "The group", body = Data<Conversation>),
        (status = 403, description = "Not a member, or not the owner"),
        (status = 404, description = "No such conversation or member"),
        (status = 422, description = "A DM, `owner` as the role, or yourself as the target"),
    ),
)]
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

/// Leave a group
///
/// An owner who leaves hands the ownership to the longest-standing admin,
/// else member. Answers the group with its members as they were before.
#[utoipa::path(
    post, path = "/conversations/{id}/leave", operation_id = "leaveConversation", tag = "conversations",
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The group as it was before leaving", body = Data<Conversation>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
        (status = 422, description = "A DM (DMs cannot be left)"),
    ),
)]
async fn leave(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    Ok(super::ok(groups::leave(&state, &me, id).await?))
}

/// List a conversation's messages
///
/// Newest first, paged with `cursor`; or, with `after_seq=N`, every message
/// with `seq` above N, oldest first (catch-up after a reconnect: no gaps, no
/// duplicates).
#[utoipa::path(
    get, path = "/conversations/{id}/messages", operation_id = "listMessages", tag = "messages",
    params(("id" = Uuid, Path, description = "Conversation id"), ListQuery),
    responses(
        (status = 200, description = "One page", body = Page<Message>),
        (status = 403, description = "Not a member"),
        (status = 404, description = "No such conversation"),
    ),
)]
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
