//! `GET /api/v1/presence?user_ids=a,b`: who is online. Like profiles, any
//! authenticated user may ask about any user.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use shared_types::api::MAX_PRESENCE_IDS;

use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::extract::Query;
use crate::services::presence;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/presence", get(presence_of))
}

#[derive(Debug, Deserialize)]
struct PresenceQuery {
    user_ids: Option<String>,
}

/// One entry per asked id, in the order asked.
async fn presence_of(
    State(state): State<AppState>,
    _: AuthUser,
    Query(q): Query<PresenceQuery>,
) -> AppResult<Response> {
    let ids: Vec<String> = q
        .user_ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() || ids.len() > MAX_PRESENCE_IDS {
        return Err(AppError::validation(format!(
            "user_ids must hold 1 to {MAX_PRESENCE_IDS} comma-separated ids"
        )));
    }
    crate::services::users::check_ids(&ids, "user_ids")?;
    Ok(super::ok(presence::get(&state, &ids).await?))
}
