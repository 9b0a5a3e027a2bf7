//! `POST /api/v1/webhooks/tms`: no user token; TMS's HMAC signature instead.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use shared_auth::webhook_sig;

use crate::error::AppResult;
use crate::services::webhooks;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/tms", post(tms))
}

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
