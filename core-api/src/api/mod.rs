//! Public routes. Each resource module exposes `router()`, an
//! `OpenApiRouter` whose routes are registered with `routes!(handler, …)`
//! from their `#[utoipa::path]` annotations, so a route and its OpenAPI entry
//! are one thing. `public_routes` puts health, the docs and `/api/v1`
//! together: the app serves it and `crate::spec::openapi` documents it.

mod auth;
mod conversations;
pub mod docs;
pub mod health;
mod messages;
mod polls;
mod presence;
mod reactions;
mod users;

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

/// Health, docs and `/api/v1`. With a state, `/api/v1` requires
/// authentication (the served app); without one the routes only feed the
/// OpenAPI document and are never served.
pub fn public_routes(state: Option<&AppState>) -> OpenApiRouter<AppState> {
    let mut v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(presence::router())
        .merge(polls::router())
        .merge(reactions::router());
    if let Some(state) = state {
        v1 = v1.route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ));
    }
    OpenApiRouter::with_openapi(crate::spec::ApiDoc::openapi())
        .merge(health::router())
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
