use axum::extract::State;
use axum::response::Response;
use shared_types::search::SearchHit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::extract::Query;
use crate::models::AuthUser;
use crate::services::search::{self, SearchQuery};
use crate::spec::Page;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_messages))
}

/// Search messages
///
/// Full-text search over the text of the live messages of the caller's
/// conversations (membership as of now: a former member no longer finds the
/// conversation's messages), newest first, each with a highlighted, HTML-safe
/// `snippet`. Words are matched whole and without case (no stemming, any
/// script), the last one as a prefix; `-word` excludes.
#[utoipa::path(
    get, path = "/search/messages", operation_id = "searchMessages", tag = "messages",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of hits", body = Page<SearchHit>),
        (status = 403, description = "`conversation_id` names a conversation the caller is not in"),
        (status = 404, description = "`conversation_id` names no conversation"),
        (status = 422, description = "`q` missing, empty, too long, or with nothing to find; a bad filter, cursor or limit"),
    ),
)]
async fn search_messages(
    State(state): State<AppState>,
    me: AuthUser,
    Query(query): Query<SearchQuery>,
) -> AppResult<Response> {
    let (hits, pagination) = search::messages(&state, &me, &query).await?;
    Ok(super::page(hits, pagination))
}
