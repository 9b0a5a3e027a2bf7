//! Public routes. Each resource module exposes `router()`, an
//! `OpenApiRouter` whose routes are registered with `routes!(handler, …)`
//! from their `#[utoipa::path]` annotations, so a route and its OpenAPI entry
//! are one thing. `public_routes` puts health, metrics, the docs and
//! `/api/v1` together: the app serves it and `openapi` documents
//! it. `/api/v1` runs behind authentication and the per-user API limit; the
//! TMS webhook checks its own signature and is not counted.

mod auth;
pub(crate) mod calls;
mod conversations;
pub mod docs;
mod files;
pub mod health;
mod limits;
mod messages;
pub mod metrics;
mod polls;
mod presence;
mod privacy;
mod reactions;
mod reads;
mod search;
mod settings;
mod sync;
mod users;
mod webhooks;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use shared_types::{Envelope, ErrorCode, Pagination};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::state::AppState;

/// The OpenAPI document of every public route, built from the routes the
/// app serves, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = public_routes(None).split_for_parts();
    crate::spec::complete(&mut doc);
    doc
}

/// Health, docs and `/api/v1`. With a state, `/api/v1` requires
/// authentication (the served app); without one the routes only feed the
/// OpenAPI document and are never served.
pub fn public_routes(state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let mut v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(files::router())
        .merge(presence::router())
        .merge(polls::router())
        .merge(reactions::router())
        .merge(search::router())
        .merge(settings::router())
        .merge(privacy::router())
        .merge(calls::router())
        .merge(reads::router())
        .merge(sync::router());
    if let Some(state) = state {
        // the limit runs after authentication (layers added later wrap the earlier ones)
        v1 = v1
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                limits::limit_api,
            ))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::auth::authenticate,
            ));
    }
    // signed by TMS, not by a user: outside `authenticate`
    let v1 = v1.merge(webhooks::router());
    OpenApiRouter::with_openapi(crate::spec::ApiDoc::openapi())
        .merge(health::router())
        .merge(metrics::router())
        .merge(docs::router())
        .nest("/api/v1", v1)
}

/// 200 with the envelope.
pub fn ok<T: Serialize>(data: T) -> Response {
    Json(Envelope::ok(data)).into_response()
}

/// 201 with the envelope.
pub fn created<T: Serialize>(data: T) -> Response {
    (StatusCode::CREATED, Json(Envelope::ok(data))).into_response()
}

pub fn page<T: Serialize>(data: T, pagination: Pagination) -> Response {
    Json(Envelope::page(data, pagination)).into_response()
}

pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such route")
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}
