use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use shared_types::api::Me;
use shared_types::ErrorCode;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::services::users;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/me", get(me))
}

/// GET /api/v1/auth/me: the caller's TMS id and profile (null while TMS is unreachable and no cached copy can be read).
async fn me(State(state): State<AppState>, user: AuthUser) -> AppResult<Response> {
    let profile = match users::profile(&state, &user.tms_user_id).await {
        Ok(p) => p,
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::TmsUnavailable | ErrorCode::CacheUnavailable
            ) =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    Ok(super::ok(Me {
        tms_user_id: user.tms_user_id,
        profile,
    }))
}
