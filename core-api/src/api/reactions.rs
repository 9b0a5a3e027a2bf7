use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use axum::Router;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::extract::Path;
use crate::services::reactions;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/messages/{id}/reactions/{emoji}", put(add).delete(remove))
}

/// PUT /api/v1/messages/{id}/reactions/{emoji} (percent-encoded): 201 when
/// added, 200 when the caller already had it; with the message's reactions.
async fn add(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, emoji)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    let (reactions, added) = reactions::add(&state, &me, id, &emoji).await?;
    Ok(if added {
        super::created(reactions)
    } else {
        super::ok(reactions)
    })
}

/// DELETE /api/v1/messages/{id}/reactions/{emoji}: 200 whether or not it was there.
async fn remove(
    State(state): State<AppState>,
    me: AuthUser,
    Path((id, emoji)): Path<(Uuid, String)>,
) -> AppResult<Response> {
    Ok(super::ok(reactions::remove(&state, &me, id, &emoji).await?))
}
