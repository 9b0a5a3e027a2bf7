//! Message search: only the live messages of conversations the caller is a
//! member of now. A removed member (or one who left) no longer finds the
//! conversation's messages, earlier ones included: search shows what the
//! caller may read, and a former member may no longer read the history.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared_types::search::{ends_in_prefix, parse_search_query, SearchHit};
use shared_types::Pagination;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::models::search::SearchFilter;
use crate::models::AuthUser;
use crate::repositories::search as repo;
use crate::services::pagination::{self, PageQuery};
use crate::services::{files, membership};
use crate::state::AppState;

/// Not `#[serde(flatten)]` over `PageQuery`: flattened query strings lose their number types.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (any script, any case; at most 200 characters and 16
    /// words). All must occur; `-word` excludes; the last word matches as a
    /// prefix unless `q` ends with a space.
    pub q: Option<String>,
    /// Only this conversation (403 when the caller is not a member).
    pub conversation_id: Option<Uuid>,
    /// Only messages of this sender (TMS id).
    pub sender_id: Option<String>,
    /// Only messages created before this time (RFC 3339).
    pub before: Option<DateTime<Utc>>,
    /// Only messages created after this time (RFC 3339).
    pub after: Option<DateTime<Utc>>,
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Newest first, with highlighted snippets, in cursor pages.
pub async fn messages(
    state: &AppState,
    me: &AuthUser,
    query: &SearchQuery,
) -> AppResult<(Vec<SearchHit>, Pagination)> {
    let q = query
        .q
        .as_deref()
        .ok_or_else(|| AppError::validation("q is required"))?;
    let terms = parse_search_query(q).map_err(AppError::validation)?;
    let limit = PageQuery {
        cursor: None,
        limit: query.limit,
    }
    .limit()?;
    if let (Some(before), Some(after)) = (query.before, query.after) {
        if after >= before {
            return Err(AppError::validation("after must be earlier than before"));
        }
    }
    if let Some(sender) = &query.sender_id {
        crate::services::users::check_ids(std::slice::from_ref(sender), "sender_id")?;
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(pagination::decode_time_id)
        .transpose()?;
    if let Some(id) = query.conversation_id {
        membership::require_member(state, id, me).await?;
    }
    let filter = SearchFilter {
        user_id: me.user_id,
        tsquery: terms.to_tsquery(ends_in_prefix(q)),
        conversation_id: query.conversation_id,
        sender_id: query.sender_id.clone(),
        before: query.before,
        after: query.after,
        cursor,
        limit: limit + 1,
    };
    let mut rows = repo::messages(&state.db, &filter).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last()
            .map(|r| pagination::encode_time_id(r.position().0, r.position().1))
    } else {
        None
    };
    let mut hits: Vec<SearchHit> = rows.into_iter().map(|r| r.into_hit()).collect();
    for hit in &mut hits {
        files::sign_urls(state, std::slice::from_mut(&mut hit.message));
    }
    Ok((
        hits,
        Pagination {
            next_cursor,
            has_more,
        },
    ))
}
