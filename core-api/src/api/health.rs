use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared_types::api::Health;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::spec::Data;
use crate::state::AppState;

/// Longest a readiness check waits on a dependency: a balancer polls it, so a
/// hung dependency must read as "not ready" at once, not after a request timeout.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_millis(500);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
}

/// Liveness
///
/// The process is up.
#[utoipa::path(
    get, path = "/health/live", operation_id = "live", tag = "health",
    responses(
        (status = 200, description = "Up", body = Data<Health>),
    ),
)]
async fn live() -> Response {
    super::ok(Health {
        status: "ok".into(),
        checks: None,
    })
}

/// Readiness
///
/// Postgres and Redis answer, checked together, each within 500 ms; a Redis
/// already known down answers at once. `checks` says which is down.
#[utoipa::path(
    get, path = "/health/ready", operation_id = "ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Data<Health>),
        (status = 503, description = "`SERVICE_UNAVAILABLE`: `details` names each dependency `ok` or `down`"),
    ),
)]
async fn ready(State(state): State<AppState>) -> Response {
    let postgres = async {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.db);
        matches!(
            tokio::time::timeout(READY_CHECK_TIMEOUT, query).await,
            Ok(Ok(_))
        )
    };
    let redis = async { state.cache.ping_within(READY_CHECK_TIMEOUT).await.is_ok() };
    let (postgres, redis) = tokio::join!(postgres, redis);
    let checks = json!({ "postgres": if postgres { "ok" } else { "down" }, "redis": if redis { "ok" } else { "down" } });
    if postgres && redis {
        super::ok(Health {
            status: "ok".into(),
            checks: Some(checks),
        })
    } else {
        let down: Vec<&str> = [("postgres", postgres), ("redis", redis)]
            .into_iter()
            .filter(|(_, up)| !up)
            .map(|(name, _)| name)
            .collect();
        let body = ApiErrorBody {
            code: ErrorCode::ServiceUnavailable,
            message: format!("not ready: {} down", down.join(" and ")),
            details: Some(checks),
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(Envelope::err(body))).into_response()
    }
}
