//! Who is calling. Public routes accept a TMS JWT (core running standalone) or
//! the edge's signed identity; `/internal/v1` accepts only the signature.

pub mod internal;
pub mod jwt;
pub mod replay;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use shared_types::internal::HEADER_SIGNATURE;
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;

use crate::error::AppError;
use crate::models::AuthUser;
use crate::services::{deny_list, users};
use crate::state::AppState;

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthUser>()
            .cloned()
            .ok_or_else(|| AppError::new(ErrorCode::TokenMissing, "authentication required"))
    }
}

/// Middleware for `/api/v1`: resolves the caller before any handler runs.
pub async fn authenticate(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let (tms_user_id, body) = if parts.headers.contains_key(HEADER_SIGNATURE) {
        let bytes = read_body(body).await?;
        let acting = internal::verify_request(&state, &parts, &bytes).await?;
        let user = acting.filter(|u| !u.is_empty()).ok_or_else(|| {
            AppError::new(
                ErrorCode::InternalAuthFailed,
                "internal authentication failed",
            )
        })?;
        deny_list::check_user(&state, &user).await?;
        (user, Body::from(bytes))
    } else {
        let token = bearer_token(&parts)?;
        let verified = state.jwt.verify(token, state.clock.unix_secs()).await?;
        deny_list::check_token(&state, &verified).await?;
        (verified.tms_user_id, body)
    };
    let user_id = users::local_id(&state, &tms_user_id).await?;
    parts.extensions.insert(AuthUser {
        tms_user_id,
        user_id,
    });
    Ok(next.run(Request::from_parts(parts, body)).await)
}

fn bearer_token(parts: &Parts) -> Result<&str, AppError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenMissing,
            "missing Authorization: Bearer token",
        )
    })?;
    let value = header.to_str().map_err(|_| {
        AppError::new(
            ErrorCode::TokenMalformed,
            "Authorization header is not ASCII",
        )
    })?;
    shared_auth::bearer_token(value).ok_or_else(|| {
        AppError::new(
            ErrorCode::TokenMissing,
            "missing Authorization: Bearer token",
        )
    })
}

pub(crate) async fn read_body(body: Body) -> Result<axum::body::Bytes, AppError> {
    to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("body exceeds {MAX_BODY_BYTES} bytes"),
        )
    })
}
