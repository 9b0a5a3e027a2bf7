//! Conversations: create (DM once per pair), list mine, get, rename, members.

use std::collections::HashMap;

use serde::Deserialize;
use shared_types::api::{
    Conversation, ConversationSummary, ConversationType, CreateConversation, Member,
};
use shared_types::limits;
use shared_types::socket::{server_events, MemberRemoved, NS_MESSAGING, NS_NOTIFICATIONS};
use shared_types::Pagination;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::models::conversation::{ConversationRow, DbMemberRole, MemberRow};
use crate::models::AuthUser;
use crate::repositories::{conversations as repo, members as members_repo, users as users_repo};
use crate::services::pagination::{self, PageQuery};
use crate::services::{files, membership, presence, users};
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
    repo::add_members(&mut tx, id, &ids, DbMemberRole::Member).await?;
    tx.commit().await?;
    register_online(state, id, &[me.tms_user_id.clone(), other.to_string()]).await;
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
    check_group_size(state, others.len() as i64 + 1)?;
    users::require_known(state, others).await?;
    let mut tx = state.db.begin().await?;
    let id = repo::insert_group(&mut tx, title, me.user_id).await?;
    repo::add_members(&mut tx, id, &[me.user_id], DbMemberRole::Owner).await?;
    let other_ids = users_repo::ensure_many(&mut tx, others).await?;
    repo::add_members(&mut tx, id, &other_ids, DbMemberRole::Member).await?;
    tx.commit().await?;
    let mut members = others.to_vec();
    members.push(me.tms_user_id.clone());
    register_online(state, id, &members).await;
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

/// Not `#[serde(flatten)]` over `PageQuery`: flattened query strings lose their number types.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Also list the conversations the caller archived (default false).
    pub archived: Option<bool>,
}

pub async fn list_mine(
    state: &AppState,
    me: &AuthUser,
    query: &ListQuery,
) -> AppResult<(Vec<ConversationSummary>, Pagination)> {
    let limit = PageQuery {
        cursor: None,
        limit: query.limit,
    }
    .limit()?;
    let after = query
        .cursor
        .as_deref()
        .map(pagination::decode_flag_time_id)
        .transpose()?;
    let with_archived = query.archived.unwrap_or(false);
    let (db, _) = super::replica::pool_for_read(state).await;
    let mut rows = crate::repositories::conversation_list::list_for_user(
        db,
        me.user_id,
        with_archived,
        after,
        limit + 1,
    )
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last()
            .map(|r| pagination::encode_flag_time_id(r.pinned, r.activity_at, r.id))
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|r| ConversationSummary {
            id: r.id,
            kind: r.kind.into(),
            title: r.title,
            last_seq: r.last_seq,
            unread_count: r.unread_count,
            unread_mention_count: r.unread_mention_count,
            updated_at: r.updated_at,
            last_message_at: r.last_message_at,
            last_message: r.last_message.into_message(r.id).map(|mut m| {
                files::sign_urls(state, std::slice::from_mut(&mut m));
                m
            }),
            member_ids: r.member_ids,
            pinned: r.pinned,
            archived: r.archived,
            notification_level: r.notification_level.into(),
            muted_until: r.muted_until,
            member_count: r.member_count,
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

/// The conversation with its first members and their profiles (one batch
/// lookup), and its member count.
pub(super) async fn load(state: &AppState, id: Uuid) -> AppResult<Conversation> {
    let rows = read_in(&mut *state.db.acquire().await?, id).await?;
    Ok(with_profiles(state, rows).await)
}

/// The conversation's row, first `DETAIL_MEMBERS` members and member count,
/// without profiles: what a change reads inside its transaction, so that TMS
/// is asked only after the commit.
pub(super) async fn read_in(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
) -> AppResult<(ConversationRow, Vec<MemberRow>, i64)> {
    let row = repo::get(&mut *conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))?;
    let members = members_repo::page(&mut *conn, id, None, limits::DETAIL_MEMBERS as i64).await?;
    let count = members_repo::count(&mut *conn, id).await?;
    Ok((row, members, count))
}

/// Adds the members' profiles; never call it while holding a lock (TMS may be slow).
pub(super) async fn with_profiles(
    state: &AppState,
    (row, members, count): (ConversationRow, Vec<MemberRow>, i64),
) -> Conversation {
    row.into_conversation(member_profiles(state, members).await, count)
}

/// Members with their profiles (one batch lookup); a TMS outage leaves them out.
async fn member_profiles(state: &AppState, members: Vec<MemberRow>) -> Vec<Member> {
    let ids: Vec<String> = members.iter().map(|m| m.tms_user_id.clone()).collect();
    // profiles are decoration: a TMS outage must not hide the conversation
    let profiles: HashMap<_, _> = users::profiles(state, &ids).await.unwrap_or_default();
    members
        .into_iter()
        .map(|m| {
            let profile = profiles.get(&m.tms_user_id).cloned();
            let mut member = m.into_member();
            member.profile = profile;
            member
        })
        .collect()
}

/// One page of a conversation's members in join order, for a member.
pub async fn members_page(
    state: &AppState,
    me: &AuthUser,
    id: Uuid,
    page: &PageQuery,
) -> AppResult<(Vec<Member>, Pagination)> {
    let limit = page.limit()?;
    let after = page
        .cursor
        .as_deref()
        .map(pagination::decode_time_id)
        .transpose()?;
    membership::require_member(state, id, me).await?;
    let mut rows = members_repo::page(&state.db, id, after, limit + 1).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last()
            .map(|r| pagination::encode_time_id(r.joined_at, r.user_id))
    } else {
        None
    };
    let items = member_profiles(state, rows).await;
    Ok((
        items,
        Pagination {
            next_cursor,
            has_more,
        },
    ))
}

/// After members joined (a creation, an addition), before any event about
/// it is published: the gateways holding them now join the conversation's
/// notify set, so its next message reaches them on `/notifications` without
/// a reconnect. A failure is logged: they hear of messages again once they
/// reconnect (or another registration of their gateway happens).
pub(super) async fn register_online(state: &AppState, id: Uuid, users: &[String]) {
    if !state.fanout.is_enabled() {
        return;
    }
    if let Err(e) = presence::register_members_online(state, id, users).await {
        tracing::error!(conversation_id = %id, error = %e, "notify set not updated for new members");
    }
}

pub(super) fn notify(state: &AppState, conversation: &Conversation, event: &str) {
    let data = serde_json::to_value(conversation).unwrap_or_default();
    publish(state, conversation, event, data);
}

/// Tells the conversation's Room to drop the sockets of a user who is no
/// longer a member, so they stop receiving its events at once.
/// `epoch`: the removal epoch this removal created (`FanoutEvent::removal_epoch`).
pub(super) fn evict_from_room(state: &AppState, id: Uuid, user_id: &str, epoch: Option<i64>) {
    state.fanout.publish(
        Push::to_conversation(
            id,
            NS_MESSAGING,
            server_events::MEMBER_REMOVED,
            serde_json::to_value(MemberRemoved {
                conversation_id: id,
                user_id: user_id.to_owned(),
            })
            .unwrap_or_default(),
            None,
        )
        .evicting(user_id)
        .at_epoch(epoch),
    );
}

/// To every member's sockets on `/notifications`: the members and their
/// gateways are resolved when the lane sends (the event never carries the
/// member list); on the conversation's lane, so it stays in order with its
/// room events.
pub(super) fn publish(
    state: &AppState,
    conversation: &Conversation,
    event: &str,
    data: serde_json::Value,
) {
    state.fanout.publish(Push::to_members(
        conversation.id,
        NS_NOTIFICATIONS,
        event,
        data,
    ));
}

/// Deduplicates, drops the caller, rejects ids that break `TmsUserId`'s rule and oversized lists.
pub(super) fn normalize_member_ids(ids: &[String], me: &str) -> AppResult<Vec<String>> {
    limits::check_member_id_count(ids.len()).map_err(AppError::validation)?;
    users::check_ids(ids, "member_ids")?;
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if id != me && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// 422 past `MAX_GROUP_MEMBERS` (the change's transaction then rolls back).
pub(super) fn check_group_size(state: &AppState, members: i64) -> AppResult<()> {
    let max = state.config.max_group_members;
    if members > max as i64 {
        return Err(AppError::validation(format!(
            "a group has at most {max} members (MAX_GROUP_MEMBERS)"
        )));
    }
    Ok(())
}

pub(super) fn validate_title(title: Option<&str>) -> AppResult<String> {
    limits::normalize_title(title).map_err(AppError::validation)
}

/// `{byte length of the lower id}:{lower}|{higher}`: the same key whoever
/// creates the DM; length-prefixed because TMS ids are opaque and may contain
/// any separator (`|` included).
fn direct_key(a: &str, b: &str) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{low}|{high}", low.len())
}
