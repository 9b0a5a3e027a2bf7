use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use shared_types::api::Health;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// GET /health/live: the process is up.
async fn live() -> Response {
    super::ok(Health {
        status: "ok".into(),
        checks: None,
    })
}

/// GET /health/ready: Postgres and Redis answer.
async fn ready(State(state): State<AppState>) -> Response {
    let postgres = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.db)
        .await
        .is_ok();
    let redis = state.cache.ping().await.is_ok();
    let checks = json!({ "postgres": if postgres { "ok" } else { "down" }, "redis": if redis { "ok" } else { "down" } });
    if postgres && redis {
        super::ok(Health {
            status: "ok".into(),
            checks: Some(checks),
        })
    } else {
        let body = ApiErrorBody {
            code: ErrorCode::ServiceUnavailable,
            message: "a dependency is down".into(),
            details: Some(checks),
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(Envelope::err(body))).into_response()
    }
}
