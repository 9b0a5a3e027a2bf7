//! `GET /metrics` (Prometheus text format) on core's port, and the HTTP
//! request metrics. With `METRICS_TOKEN` set a scrape must bring it as a
//! bearer token; unset (dev), the route is open.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use shared_types::ErrorCode;
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppError;
use crate::metrics::CONTENT_TYPE as PROMETHEUS_TEXT;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

/// Prometheus metrics
///
/// Text format 0.0.4. With `METRICS_TOKEN` set, a scrape brings it as
/// `Authorization: Bearer <METRICS_TOKEN>` (not a TMS token); unset (dev),
/// the route is open.
#[utoipa::path(
    get, path = "/metrics", operation_id = "getMetrics", tag = "health",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "`TOKEN_MISSING` or `INTERNAL_AUTH_FAILED`: the metrics token is required"),
    ),
)]
async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Some(expected) = &state.config.metrics_token {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(shared_auth::bearer_token)
            .ok_or_else(|| {
                AppError::new(ErrorCode::TokenMissing, "metrics need the bearer token")
            })?;
        if !bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes())) {
            return Err(AppError::new(
                ErrorCode::InternalAuthFailed,
                "wrong metrics token",
            ));
        }
    }
    Ok(([(CONTENT_TYPE, PROMETHEUS_TEXT)], state.metrics.encode()).into_response())
}

/// The route pattern a request matched, handed from the router (where it is
/// known) to `track_http` (outside it, where the fallbacks are seen too).
#[derive(Clone)]
struct Route(MatchedPath);

/// A route layer: runs after routing, so `MatchedPath` is known.
pub async fn mark_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(Route(route));
    }
    response
}

/// Counts every request by method, route pattern and status, with its
/// latency; requests no route matched count as `unmatched`.
pub async fn track_http(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str());
    state.metrics.observe_http(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
