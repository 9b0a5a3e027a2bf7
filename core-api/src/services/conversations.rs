//! Conversations: create (DM once per pair), list mine, get, rename, members.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use shared_types::api::{
    AddMembers, Conversation, ConversationSummary, ConversationType, CreateConversation, MemberRole,
};
use shared_types::limits::{MAX_GROUP_MEMBERS_PER_REQUEST, MAX_TITLE_CHARS};
use shared_types::socket::{server_events, NS_MESSAGING, NS_NOTIFICATIONS};
use shared_types::Pagination;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::models::conversation::{kind_from_db, role_to_db};
use crate::repositories::{conversations as repo, users as users_repo};
use crate::services::pagination::{self, PageQuery};
use crate::services::{fanout, membership, users};
use crate::state::AppState;

pub struct Created {
    pub conversation: Conversation,
    /// False when an existing direct conversation was returned.
    pub created: bool,
}

pub async fn create(
    state: &AppState,
    me: &AuthUser,
    input: CreateConversation,
) -> AppResult<Created> {
    let others = normalize_member_ids(&input.member_ids, &me.tms_user_id)?;
    match input.kind {
        ConversationType::Direct => {
            if input.title.is_some() {
                return Err(AppError::validation("a direct conversation has no title"));
            }
            let [other] = others.as_slice() else {
                return Err(AppError::validation(
                    "a direct conversation needs exactly one other member",
                ));
            };
            create_direct(state, me, other).await
        }
        ConversationType::Group => {
            let title = validate_title(input.title.as_deref())?;
            if others.is_empty() {
                return Err(AppError::validation(
                    "a group needs at least one other member",
                ));
            }
            create_group(state, me, &title, &others).await
        }
    }
}

async fn create_direct(state: &AppState, me: &AuthUser, other: &str) -> AppResult<Created> {
    let key = direct_key(&me.tms_user_id, other);
    if let Some(id) = repo::find_direct(&state.db, &key).await? {
        return Ok(Created {
            conversation: load(state, id).await?,
            created: false,
        });
    }
    users::require_known(state, &[other.to_string()]).await?;
    let mut tx = state.db.begin().await?;
    let ids =
        users_repo::ensure_many(&mut tx, &[me.tms_user_id.clone(), other.to_string()]).await?;
    let Some(id) = repo::insert_direct(&mut tx, &key, me.user_id).await? else {
        // lost a race with the other side creating the same DM
        tx.rollback().await?;
        let id = repo::find_direct(&state.db, &key)
            .await?
            .ok_or_else(|| AppError::internal("DM vanished"))?;
        return Ok(Created {
            conversation: load(state, id).await?,
            created: false,
        });
    };
    repo::add_members(&mut tx, id, &ids, "member").await?;
    tx.commit().await?;
    let conversation = load(state, id).await?;
    notify(state, &conversation, server_events::CONVERSATION_UPDATED);
    Ok(Created {
        conversation,
        created: true,
    })
}

async fn create_group(
    state: &AppState,
    me: &AuthUser,
    title: &str,
    others: &[String],
) -> AppResult<Created> {
    users::require_known(state, others).await?;
    let mut tx = state.db.begin().await?;
    let id = repo::insert_group(&mut tx, title, me.user_id).await?;
    repo::add_members(&mut tx, id, &[me.user_id], "owner").await?;
    let other_ids = users_repo::ensure_many(&mut tx, others).await?;
    repo::add_members(&mut tx, id, &other_ids, "member").await?;
    tx.commit().await?;
    let conversation = load(state, id).await?;
    notify(state, &conversation, server_events::CONVERSATION_UPDATED);
    Ok(Created {
        conversation,
        created: true,
    })
}

pub async fn get(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Conversation> {
    membership::require_member(state, id, me).await?;
    load(state, id).await
}

pub async fn list_mine(
    state: &AppState,
    me: &AuthUser,
    page: &PageQuery,
) -> AppResult<(Vec<ConversationSummary>, Pagination)> {
    let limit = page.limit()?;
    let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut rows = repo::list_for_user(&state.db, me.user_id, after, limit + 1).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last()
            .map(|r| pagination::encode(&format!("{}_{}", r.activity_at.timestamp_micros(), r.id)))
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|r| ConversationSummary {
            id: r.id,
            kind: kind_from_db(&r.kind),
            title: r.title,
            last_seq: r.last_seq,
            unread_count: r.unread_count,
            updated_at: r.updated_at,
            last_message_at: r.last_message_at,
            last_message: r.last_message.map(|m| m.0),
            member_ids: r.member_ids,
        })
        .collect();
    Ok((
        items,
        Pagination {
            next_cursor,
            has_more,
        },
    ))
}

pub async fn rename(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    title: Option<&str>,
) -> AppResult<Conversation> {
    require_group_admin(state, me, id).await?;
    let title = validate_title(title)?;
    repo::update_title(&state.db, id, &title).await?;
    let conversation = load(state, id).await?;
    notify(state, &conversation, server_events::CONVERSATION_UPDATED);
    Ok(conversation)
}

pub async fn add_members(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    input: AddMembers,
) -> AppResult<Conversation> {
    require_group_admin(state, me, id).await?;
    let new_ids = normalize_member_ids(&input.member_ids, &me.tms_user_id)?;
    if new_ids.is_empty() {
        return Err(AppError::validation(
            "member_ids must name at least one other user",
        ));
    }
    users::require_known(state, &new_ids).await?;
    let mut tx = state.db.begin().await?;
    let local = users_repo::ensure_many(&mut tx, &new_ids).await?;
    let added = repo::add_members(&mut tx, id, &local, "member").await?;
    repo::touch(&mut *tx, id).await?;
    tx.commit().await?;
    membership::invalidate(state, id).await;
    let conversation = load(state, id).await?;
    if !added.is_empty() {
        let added_tms: Vec<String> = conversation
            .members
            .iter()
            .filter(|m| new_ids.contains(&m.user_id))
            .map(|m| m.user_id.clone())
            .collect();
        publish(
            state,
            &conversation,
            server_events::MEMBER_ADDED,
            json!({ "conversation_id": id, "user_ids": added_tms }),
        );
    }
    Ok(conversation)
}

/// Removes `target` (a TMS id). Removing yourself is leaving.
pub async fn remove_member(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    target: &str,
) -> AppResult<Conversation> {
    if target == me.tms_user_id {
        return leave(state, me, id).await;
    }
    let caller = require_group_admin(state, me, id).await?;
    let target_local = users_repo::find(&state.db, target)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    let member = repo::member(&state.db, id, target_local)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    match (caller.role(), member.role()) {
        (_, MemberRole::Owner) => return Err(AppError::forbidden("the owner cannot be removed")),
        (MemberRole::Admin, MemberRole::Admin) => {
            return Err(AppError::forbidden("only the owner can remove an admin"))
        }
        _ => {}
    }
    let before = load(state, id).await?;
    repo::remove_member(&state.db, id, target_local).await?;
    repo::touch(&state.db, id).await?;
    membership::invalidate(state, id).await;
    publish(
        state,
        &before,
        server_events::MEMBER_REMOVED,
        json!({ "conversation_id": id, "user_id": target }),
    );
    evict_from_room(state, id, target);
    load(state, id).await
}

/// Leaves a group. An owner who leaves hands ownership to the longest-standing admin, else member.
pub async fn leave(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Conversation> {
    let caller = membership::require_member(state, id, me).await?;
    let conversation = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    if conversation.kind() == ConversationType::Direct {
        return Err(AppError::validation(
            "you cannot leave a direct conversation",
        ));
    }
    let before = load(state, id).await?;
    let mut tx = state.db.begin().await?;
    repo::remove_member(&mut *tx, id, me.user_id).await?;
    if caller.role() == MemberRole::Owner {
        if let Some(next) = repo::successor(&mut *tx, id).await? {
            repo::set_role(&mut *tx, id, next, role_to_db(MemberRole::Owner)).await?;
        }
    }
    repo::touch(&mut *tx, id).await?;
    tx.commit().await?;
    membership::invalidate(state, id).await;
    publish(
        state,
        &before,
        server_events::MEMBER_REMOVED,
        json!({ "conversation_id": id, "user_id": me.tms_user_id }),
    );
    evict_from_room(state, id, &me.tms_user_id);
    Ok(before)
}

/// Only the owner changes roles; ownership itself is not transferable this way.
pub async fn set_role(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    target: &str,
    role: MemberRole,
) -> AppResult<Conversation> {
    let caller = require_group_admin(state, me, id).await?;
    if caller.role() != MemberRole::Owner {
        return Err(AppError::forbidden("only the owner can change roles"));
    }
    if role == MemberRole::Owner || target == me.tms_user_id {
        return Err(AppError::validation(
            "role must be admin or member, for another member",
        ));
    }
    let target_local = users_repo::find(&state.db, target)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    repo::member(&state.db, id, target_local)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    repo::set_role(&state.db, id, target_local, role_to_db(role)).await?;
    let conversation = load(state, id).await?;
    notify(state, &conversation, server_events::CONVERSATION_UPDATED);
    Ok(conversation)
}

async fn require_group_admin(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
) -> AppResult<crate::models::conversation::MemberRow> {
    let caller = membership::require_member(state, id, me).await?;
    let conversation = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    if conversation.kind() == ConversationType::Direct {
        return Err(AppError::validation(
            "a direct conversation has fixed members and no title",
        ));
    }
    if !caller.can_administer() {
        return Err(AppError::forbidden(
            "only a group owner or admin can change the group",
        ));
    }
    Ok(caller)
}

/// The conversation with its members and their profiles (one batch lookup).
pub async fn load(state: &AppState, id: Uuid) -> AppResult<Conversation> {
    let row = repo::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    let members = repo::members(&state.db, id).await?;
    let ids: Vec<String> = members.iter().map(|m| m.tms_user_id.clone()).collect();
    // profiles are decoration: a TMS outage must not hide the conversation
    let profiles: HashMap<_, _> = users::profiles(state, &ids).await.unwrap_or_default();
    let members = members
        .into_iter()
        .map(|m| {
            let profile = profiles.get(&m.tms_user_id).cloned();
            let mut member = m.into_member();
            member.profile = profile;
            member
        })
        .collect();
    Ok(row.into_conversation(members))
}

fn notify(state: &AppState, conversation: &Conversation, event: &str) {
    let data = serde_json::to_value(conversation).unwrap_or_default();
    publish(state, conversation, event, data);
}

/// Tells the conversation's Room to drop the sessions of a user who is no
/// longer a member, so they stop receiving its events at once.
fn evict_from_room(state: &AppState, id: Uuid, user_id: &str) {
    state.fanout.publish(fanout::to_conversation(
        id,
        NS_MESSAGING,
        server_events::MEMBER_REMOVED,
        json!({ "conversation_id": id, "user_id": user_id }),
        None,
    ));
}

fn publish(state: &AppState, conversation: &Conversation, event: &str, data: serde_json::Value) {
    let ids = conversation
        .members
        .iter()
        .map(|m| m.user_id.clone())
        .collect();
    state.fanout.publish(shared_types::internal::FanoutRequest {
        target: shared_types::internal::FanoutTarget::Users { user_ids: ids },
        namespace: NS_NOTIFICATIONS.to_string(),
        event: event.to_string(),
        data,
        seq: None,
    });
}

/// Deduplicates, drops the caller, rejects empty or oversized ids and lists.
fn normalize_member_ids(ids: &[String], me: &str) -> AppResult<Vec<String>> {
    if ids.len() > MAX_GROUP_MEMBERS_PER_REQUEST {
        return Err(AppError::validation(format!(
            "at most {MAX_GROUP_MEMBERS_PER_REQUEST} member_ids per request"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim();
        if id.is_empty() || id.len() > 128 {
            return Err(AppError::validation(
                "member_ids must be non-empty TMS user ids of at most 128 bytes",
            ));
        }
        if id != me && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn validate_title(title: Option<&str>) -> AppResult<String> {
    let title = title.map(str::trim).unwrap_or("");
    if title.is_empty() {
        return Err(AppError::validation("title is required"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(AppError::validation(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.to_string())
}

/// The same key whoever creates the DM; length-prefixed because TMS ids are
/// opaque and may contain any separator.
fn direct_key(a: &str, b: &str) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{low}|{high}", low.len())
}

/// 9999-12-31T23:59:59.999999Z.
const MAX_CURSOR_MICROS: i64 = 253_402_300_799_999_999;

fn decode_cursor(cursor: &str) -> AppResult<(DateTime<Utc>, Uuid)> {
    let raw = pagination::decode(cursor)?;
    let bad = || AppError::validation("cursor is not valid");
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    // cursors come from real activity times: anything outside 1970..=9999 is
    // forged (and some of it would be out of Postgres's range, a 500)
    let at = micros
        .parse::<i64>()
        .ok()
        .filter(|m| (0..=MAX_CURSOR_MICROS).contains(m))
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}
