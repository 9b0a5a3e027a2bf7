//! Public routes. Each resource module exposes `router()`; this merges them
//! under `/api/v1` behind authentication and the per-user API limit (the TMS
//! webhook checks its own signature and is not counted).

mod auth;
pub(crate) mod calls;
mod conversations;
mod files;
pub mod health;
mod limits;
mod messages;
pub mod metrics;
mod polls;
mod presence;
mod reactions;
mod users;
mod webhooks;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use shared_types::{Envelope, ErrorCode, Pagination};

use crate::error::AppError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(files::router())
        .merge(presence::router())
        .merge(polls::router())
        .merge(reactions::router())
        .merge(calls::router())
        // runs after authentication (layers added later wrap the earlier ones)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_api,
        ))
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::authenticate,
        ))
        // signed by TMS, not by a user: outside `authenticate`
        .merge(webhooks::router())
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
