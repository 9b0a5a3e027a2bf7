//! Group changes: rename, add and remove members, roles, leave. Each runs in
//! one transaction that first locks the conversation row, so the changes of
//! one group run one at a time and every check (the caller's role, the
//! target's role, the next owner) holds until commit.

use shared_types::api::{AddMembers, Conversation, MemberRole};
use shared_types::socket::{server_events, MemberRemoved, MembersAdded, NS_NOTIFICATIONS};
use shared_types::sync::SystemEvent;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::conversations::{
    check_group_size, evict_from_room, load, normalize_member_ids, notify, publish, read_in,
    register_online, with_profiles,
};
use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::conversation::{DbConversationKind, DbMemberRole, MemberRow};
use crate::models::AuthUser;
use crate::repositories::{
    conversations as repo, members as members_repo, removals, users as users_repo,
};
use crate::services::{membership, system_messages, users};
use crate::state::AppState;

type Tx = Transaction<'static, Postgres>;

pub async fn rename(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    title: Option<&str>,
) -> AppResult<Conversation> {
    let (mut tx, _) = begin_admin_change(state, me, id).await?;
    let title = super::conversations::validate_title(title)?;
    let old_title = repo::get(&mut *tx, id).await?.and_then(|c| c.title);
    repo::update_title(&mut *tx, id, &title).await?;
    let line = if old_title.as_deref() == Some(title.as_str()) {
        None
    } else {
        let event = SystemEvent::TitleChanged {
            actor_id: me.tms_user_id.clone(),
            title: title.clone(),
            old_title,
        };
        system_messages::record(&mut tx, id, me.user_id, &event).await?
    };
    tx.commit().await?;
    system_messages::deliver(state, line.as_ref());
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
    // refuse non-admins before asking TMS, and ask TMS before taking the lock
    // (message sends to the group wait on it)
    drop(begin_admin_change(state, me, id).await?);
    let new_ids = normalize_member_ids(&input.member_ids, &me.tms_user_id)?;
    if new_ids.is_empty() {
        return Err(AppError::validation(
            "member_ids must name at least one other user",
        ));
    }
    users::require_known(state, &new_ids).await?;
    let (mut tx, _) = begin_admin_change(state, me, id).await?;
    let local = users_repo::ensure_many(&mut tx, &new_ids).await?;
    let added = repo::add_members(&mut tx, id, &local, DbMemberRole::Member).await?;
    // counted under the group's lock: concurrent adds cannot both pass
    check_group_size(state, members_repo::count(&mut *tx, id).await?)?;
    repo::touch(&mut *tx, id).await?;
    // `ensure_many` keeps the order of `new_ids`; report only the rows added
    let added_tms: Vec<&String> = new_ids
        .iter()
        .zip(&local)
        .filter(|(_, local_id)| added.contains(local_id))
        .map(|(tms, _)| tms)
        .collect();
    let line = if added_tms.is_empty() {
        None
    } else {
        let event = SystemEvent::MemberAdded {
            actor_id: me.tms_user_id.clone(),
            user_ids: added_tms.iter().map(|s| s.to_string()).collect(),
        };
        system_messages::record(&mut tx, id, me.user_id, &event).await?
    };
    tx.commit().await?;
    membership::invalidate(state, id).await;
    let added_ids: Vec<String> = added_tms.iter().map(|s| s.to_string()).collect();
    register_online(state, id, &added_ids).await;
    let conversation = load(state, id).await?;
    if !added_tms.is_empty() {
        publish(
            state,
            &conversation,
            server_events::MEMBER_ADDED,
            serde_json::to_value(MembersAdded {
                conversation_id: id,
                user_ids: added_tms.into_iter().cloned().collect(),
            })
            .unwrap_or_default(),
        );
    }
    // after member_added: the new members' sockets are in the room by then
    system_messages::deliver(state, line.as_ref());
    Ok(conversation)
}

/// Removes `target` (a TMS id). Removing yourself is leaving.
pub async fn remove_member(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    target: &str,
) -> AppResult<Conversation> {
    users::check_ids(&[target], "user_id")?;
    if target == me.tms_user_id {
        return leave(state, me, id).await;
    }
    let (mut tx, caller) = begin_admin_change(state, me, id).await?;
    let target_local = users_repo::find(&mut *tx, target)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    let member = repo::member(&mut *tx, id, target_local)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    match (caller.role(), member.role()) {
        (_, MemberRole::Owner) => return Err(AppError::forbidden("the owner cannot be removed")),
        (MemberRole::Admin, MemberRole::Admin) => {
            return Err(AppError::forbidden("only the owner can remove an admin"))
        }
        _ => {}
    }
    // members as they were, read under the lock; profiles only after the commit
    let before = read_in(&mut tx, id).await?;
    let event = SystemEvent::MemberRemoved {
        actor_id: me.tms_user_id.clone(),
        user_id: target.to_owned(),
    };
    let line = system_messages::record(&mut tx, id, me.user_id, &event).await?;
    let epoch = removals::remove_member(&mut *tx, id, target_local).await?;
    repo::touch(&mut *tx, id).await?;
    tx.commit().await?;
    // before the removal's notice, at the epoch before it: the removed
    // member's sockets still hear it
    system_messages::deliver_at(state, line.as_ref(), epoch.map(|e| e - 1));
    let before = with_profiles(state, before).await;
    announce_removal(state, &before, target, epoch).await;
    load(state, id).await
}

/// Leaves a group. An owner who leaves hands ownership to the longest-standing admin, else member.
pub async fn leave(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<Conversation> {
    let (mut tx, caller) = begin_change(state, me, id).await?;
    // members as they were, read under the lock; profiles only after the commit
    let before = read_in(&mut tx, id).await?;
    // while still a member: the line is sent by the one who leaves
    let event = SystemEvent::MemberLeft {
        actor_id: me.tms_user_id.clone(),
    };
    let line = system_messages::record(&mut tx, id, me.user_id, &event).await?;
    let epoch = removals::remove_member(&mut *tx, id, me.user_id).await?;
    if caller.role() == MemberRole::Owner {
        // the row lock keeps the successor a member until commit
        if let Some(next) = repo::successor(&mut *tx, id).await? {
            repo::set_role(&mut *tx, id, next, DbMemberRole::Owner).await?;
        }
    }
    repo::touch(&mut *tx, id).await?;
    tx.commit().await?;
    system_messages::deliver_at(state, line.as_ref(), epoch.map(|e| e - 1));
    let before = with_profiles(state, before).await;
    announce_removal(state, &before, &me.tms_user_id, epoch).await;
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
    users::check_ids(&[target], "user_id")?;
    let (mut tx, caller) = begin_admin_change(state, me, id).await?;
    if caller.role() != MemberRole::Owner {
        return Err(AppError::forbidden("only the owner can change roles"));
    }
    if role == MemberRole::Owner || target == me.tms_user_id {
        return Err(AppError::validation(
            "role must be admin or member, for another member",
        ));
    }
    let target_local = users_repo::find(&mut *tx, target)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    repo::member(&mut *tx, id, target_local)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    repo::set_role(&mut *tx, id, target_local, role.into()).await?;
    tx.commit().await?;
    let conversation = load(state, id).await?;
    notify(state, &conversation, server_events::CONVERSATION_UPDATED);
    Ok(conversation)
}

/// After a removal commits: the cache forgets, every member (and the removed
/// one) hears `member_removed` with only the removed id, and the Room drops
/// the removed user's sessions.
async fn announce_removal(
    state: &AppState,
    before: &Conversation,
    removed: &str,
    epoch: Option<i64>,
) {
    membership::invalidate(state, before.id).await;
    // the members as they are when the lane sends, and the removed one
    state.fanout.publish(
        Push::to_members(
            before.id,
            NS_NOTIFICATIONS,
            server_events::MEMBER_REMOVED,
            serde_json::to_value(MemberRemoved {
                conversation_id: before.id,
                user_id: removed.to_owned(),
            })
            .unwrap_or_default(),
        )
        .also_to(removed),
    );
    evict_from_room(state, before.id, removed, epoch);
}

/// Opens the change's transaction with the group row locked and returns the
/// caller's membership: 404 for no such conversation, 403 for a non-member,
/// 422 for a direct conversation (fixed members, no title).
async fn begin_change(state: &AppState, me: &AuthUser, id: Uuid) -> AppResult<(Tx, MemberRow)> {
    let mut tx = state.db.begin().await?;
    let kind = repo::lock(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    let caller = repo::member(&mut *tx, id, me.user_id)
        .await?
        .ok_or_else(|| AppError::forbidden("you are not a member of this conversation"))?;
    if kind == DbConversationKind::Direct {
        return Err(AppError::validation(
            "a direct conversation has fixed members and no title",
        ));
    }
    Ok((tx, caller))
}

/// `begin_change`, for an owner or admin only (403).
async fn begin_admin_change(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
) -> AppResult<(Tx, MemberRow)> {
    let (tx, caller) = begin_change(state, me, id).await?;
    if !caller.can_administer() {
        return Err(AppError::forbidden(
            "only a group owner or admin can change the group",
        ));
    }
    Ok((tx, caller))
}
