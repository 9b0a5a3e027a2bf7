//! `GET /api/v1/presence?user_ids=a,b`: who is online. Like profiles, any
//! authenticated user may ask about any user.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use shared_types::api::{Presence, MAX_PRESENCE_IDS};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, AppResult};
use crate::extract::Query;
use crate::models::AuthUser;
use crate::services::presence;
use crate::spec::List;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(presence_of))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PresenceQuery {
    /// 1 to 100 comma-separated TMS user ids.
    #[param(example = "alice,bob")]
    user_ids: Option<String>,
}

/// Who is online
///
/// One entry per asked id, in the order asked. A user who left less than the
/// grace period ago still counts as online.
#[utoipa::path(
    get, path = "/presence", operation_id = "getPresence", tag = "presence",
    params(PresenceQuery),
    responses(
        (status = 200, description = "One entry per id", body = List<Presence>),
        (status = 422, description = "Not 1 to 100 valid ids"),
    ),
)]
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
