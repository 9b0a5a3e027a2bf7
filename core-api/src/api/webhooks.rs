//! `POST /api/v1/webhooks/tms`: no user token; TMS's HMAC signature instead.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use shared_auth::webhook_sig;
use shared_types::webhooks::{TmsWebhook, WebhookOutcome};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppResult;
use crate::services::webhooks;
use crate::spec::Data;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tms))
}

/// TMS webhook
///
/// No user token: `X-TMS-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body"
/// with TMS_WEBHOOK_SECRET>`, at most 5 minutes old, each signature once.
/// `user.updated` drops the cached profile; `user.deleted` also closes the
/// user's sockets. Other types answer `handled: false`.
#[utoipa::path(
    post, path = "/webhooks/tms", operation_id = "tmsWebhook", tag = "webhooks",
    security(()),
    params(("X-TMS-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`")),
    request_body = TmsWebhook,
    responses(
        (status = 200, description = "Verified; whether core acted on it", body = Data<WebhookOutcome>),
        (status = 401, description = "`WEBHOOK_SIGNATURE_INVALID`: missing, wrong, stale or replayed signature"),
        (status = 422, description = "Signed, but not a webhook body"),
        (status = 503, description = "`TMS_WEBHOOK_SECRET` is not set"),
    ),
)]
async fn tms(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let signature = headers
        .get(webhook_sig::HEADER)
        .and_then(|v| v.to_str().ok());
    let outcome = webhooks::receive(&state, signature, &body).await?;
    Ok(super::ok(outcome))
}
