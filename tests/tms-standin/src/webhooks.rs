//! Profile changes made through the control routes, announced to core the way
//! TMS does: a signed webhook (`shared_auth::webhook_sig`, the code core
//! verifies with). `make dev` points it at core, so an edit shows at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared_types::api::UserProfile;
use shared_types::webhooks::{USER_DELETED, USER_UPDATED};

use crate::routes::{bad_json, error};
use crate::StandIn;

/// Bound of one webhook delivery.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// `PUT /__control/users/{id}` with the new profile; then `user.updated`.
pub async fn update_user(
    State(state): State<StandIn>,
    Path(id): Path<String>,
    body: Result<Json<UserProfile>, JsonRejection>,
) -> Response {
    let profile = match body {
        Ok(Json(profile)) => profile,
        Err(rejection) => return bad_json(rejection),
    };
    if profile.id != id {
        return error(StatusCode::BAD_REQUEST, "the body's id must match the path");
    }
    if !state.controls().user_exists(&id) {
        return error(StatusCode::NOT_FOUND, "no such user");
    }
    state.controls().add_user(profile.clone());
    let webhook = announce(&state, USER_UPDATED, &id).await;
    Json(json!({ "user": profile, "webhook": webhook })).into_response()
}

/// `DELETE /__control/users/{id}`; then `user.deleted`.
pub async fn delete_user(State(state): State<StandIn>, Path(id): Path<String>) -> Response {
    if !state.controls().remove_user(&id) {
        return error(StatusCode::NOT_FOUND, "no such user");
    }
    let webhook = announce(&state, USER_DELETED, &id).await;
    Json(json!({ "deleted": id, "webhook": webhook })).into_response()
}

/// Sends the webhook when one is configured; reports what core answered.
async fn announce(state: &StandIn, kind: &str, id: &str) -> serde_json::Value {
    let config = state.config();
    let (Some(url), Some(secret)) = (&config.webhook_url, &config.webhook_secret) else {
        return json!({ "sent": false });
    };
    let body = json!({
        "id": format!("evt_{}", uuid_like()),
        "type": kind,
        "data": { "tms_user_id": id },
    })
    .to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signature = shared_auth::webhook_sig::header_value(secret.as_bytes(), now, body.as_bytes());
    let sent = reqwest::Client::new()
        .post(url)
        .timeout(WEBHOOK_TIMEOUT)
        .header("content-type", "application/json")
        .header(shared_auth::webhook_sig::HEADER, signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => json!({ "sent": true, "status": resp.status().as_u16() }),
        Err(e) => {
            tracing::warn!(error = %e, "webhook delivery failed");
            json!({ "sent": false, "error": "delivery failed" })
        }
    }
}

/// A unique-enough event id without another dependency.
fn uuid_like() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{:x}", rand::random::<u32>())
}
