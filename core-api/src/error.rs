//! The one error type of core. Every failure becomes the standard envelope;
//! internal causes are logged here and never sent to clients.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A client-facing error: its message is safe to show.
    #[error("{code}: {message}")]
    Client {
        code: ErrorCode,
        message: String,
        details: Option<Value>,
    },
    #[error("rate limited, retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(code: ErrorCode, message: impl Into<String>, details: Value) -> Self {
        Self::Client {
            code,
            message: message.into(),
            details: Some(details),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Client { code, .. } => *code,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Database(e) => {
                constraint_violation(e).map_or(ErrorCode::InternalError, |(c, _)| c)
            }
            AppError::Redis(_) => ErrorCode::ServiceUnavailable,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The body clients see; never carries an internal cause.
    pub fn body(&self) -> ApiErrorBody {
        match self {
            AppError::Client {
                code,
                message,
                details,
            } => ApiErrorBody {
                code: *code,
                message: message.clone(),
                details: details.clone(),
            },
            AppError::RateLimited { retry_after_secs } => ApiErrorBody::new(
                ErrorCode::RateLimited,
                format!("rate limit exceeded, retry after {retry_after_secs}s"),
            ),
            AppError::Database(e) => match constraint_violation(e) {
                Some((code, message)) => ApiErrorBody::new(code, message),
                None => ApiErrorBody::new(ErrorCode::InternalError, "internal error"),
            },
            AppError::Redis(_) => {
                ApiErrorBody::new(ErrorCode::ServiceUnavailable, "cache unavailable")
            }
            AppError::Internal(_) => ApiErrorBody::new(ErrorCode::InternalError, "internal error"),
        }
    }
}

/// Constraint violations that reach this far are mapped deliberately: a
/// unique violation is a conflict, a broken reference or check is bad input.
/// Services handle the expected ones (idempotent sends, existing DMs) before this.
fn constraint_violation(e: &sqlx::Error) -> Option<(ErrorCode, &'static str)> {
    let db = e.as_database_error()?;
    match db.code().as_deref() {
        Some("23505") => Some((ErrorCode::Conflict, "resource already exists")),
        Some("23503") => Some((
            ErrorCode::Unprocessable,
            "referenced resource does not exist",
        )),
        Some("23514") | Some("22001") => Some((ErrorCode::ValidationError, "value out of range")),
        _ => None,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = self.body();
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &self {
            AppError::Client { .. } | AppError::RateLimited { .. } => {
                tracing::debug!(code = %body.code, "request rejected: {}", body.message)
            }
            AppError::Database(_) if status.is_client_error() => {
                tracing::info!(code = %body.code, error = %self, "constraint violation")
            }
            _ => tracing::error!(code = %body.code, error = %self, "request failed"),
        }
        let mut response = (status, Json(Envelope::err(body))).into_response();
        if let AppError::RateLimited { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
