//! `POST /api/v1/files/upload-url`: a signed OSS PUT URL for one upload.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use shared_types::files::UploadUrlRequest;

use crate::auth::AuthUser;
use crate::error::AppResult;
use crate::extract::Json;
use crate::services::files;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/files/upload-url", post(upload_url))
}

/// POST /api/v1/files/upload-url `{kind, content_type, size, filename}` →
/// `{upload_url, method, object_key, expires_at, headers}`.
async fn upload_url(
    State(state): State<AppState>,
    me: AuthUser,
    Json(input): Json<UploadUrlRequest>,
) -> AppResult<Response> {
    Ok(super::ok(files::upload_url(&state, &me, input).await?))
}
