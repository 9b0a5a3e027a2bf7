use axum::extract::State;
use axum::response::Response;
use shared_types::sync::SyncChange;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::extract::Query;
use crate::models::AuthUser;
use crate::services::sync::{self, SyncQuery};
use crate::spec::Page;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(feed))
}

/// Changes since a cursor
///
/// Every change visible to the caller after `since`, oldest first: new
/// messages, edits, deletes, reactions, poll changes, receipts on the
/// caller's messages, the caller's read marks, members added and removed,
/// renames and role changes. Each carries the changed thing as it is now and
/// its `cursor`; `pagination.next_cursor` is always set (the position to ask
/// from next), `has_more` says whether to ask at once. A change made in the
/// conversations the caller joined, from the moment they joined. Without
/// `since`: no changes, and the cursor of now. Changes are kept
/// `SYNC_RETENTION_DAYS`; an older cursor is answered 410 `SYNC_CURSOR_EXPIRED`:
/// reload the lists, then follow the feed from a fresh cursor.
#[utoipa::path(
    get, path = "/sync", operation_id = "syncChanges", tag = "sync",
    params(SyncQuery),
    responses(
        (status = 200, description = "One page of changes", body = Page<SyncChange>),
        (status = 410, description = "`SYNC_CURSOR_EXPIRED`: the cursor is past retention"),
        (status = 422, description = "`since` is not a cursor of this feed, or a bad `limit`"),
    ),
)]
async fn feed(
    State(state): State<AppState>,
    me: AuthUser,
    Query(query): Query<SyncQuery>,
) -> AppResult<Response> {
    let (items, pagination) = sync::feed(&state, &me, &query).await?;
    Ok(super::page(items, pagination))
}
