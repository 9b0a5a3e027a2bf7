use axum::extract::State;
use axum::response::Response;
use shared_types::api::Me;
use shared_types::ErrorCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::models::AuthUser;
use crate::services::users;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// Who am I
///
/// The caller's TMS id and profile; `profile` is null while TMS is
/// unreachable and no cached copy can be read.
#[utoipa::path(
    get, path = "/auth/me", operation_id = "getMe", tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Data<Me>),
    ),
)]
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
