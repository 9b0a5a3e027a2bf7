//! `POST /api/v1/files/upload-url`: a signed OSS PUT URL for one upload.

use axum::extract::State;
use axum::response::Response;
use shared_types::files::{UploadUrl, UploadUrlRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::extract::Json;
use crate::models::AuthUser;
use crate::services::files;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_url))
}

/// Get a signed upload URL
///
/// A signed OSS `PUT` URL for one upload, binding the content type and the
/// size; send the returned `headers` with the `PUT`, then a message of the
/// same kind naming `object_key`. 5 a minute per user (only issued URLs count).
#[utoipa::path(
    post, path = "/files/upload-url", operation_id = "createUploadUrl", tag = "files",
    request_body = UploadUrlRequest,
    responses(
        (status = 200, description = "The signed upload", body = Data<UploadUrl>),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over the kind's size limit"),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`: not in the kind's allowlist"),
        (status = 429, description = "`RATE_LIMITED`: more than 5 upload URLs in a minute"),
        (status = 503, description = "`STORAGE_NOT_CONFIGURED`: no OSS settings"),
    ),
)]
async fn upload_url(
    State(state): State<AppState>,
    me: AuthUser,
    Json(input): Json<UploadUrlRequest>,
) -> AppResult<Response> {
    Ok(super::ok(files::upload_url(&state, &me, input).await?))
}
