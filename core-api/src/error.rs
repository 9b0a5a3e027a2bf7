//! The one error type of core. Every failure becomes the standard envelope;
//! internal causes are logged here and never sent to clients.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};

use crate::rate_limit::budget::RateStatus;

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
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("internal: {0}")]
    Internal(String),
    /// A per-user rate limit refused the request: 429 with `Retry-After` and
    /// the `X-RateLimit-*` headers of that limit.
    #[error("rate limited: {0:?}")]
    RateLimited(RateStatus),
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
            AppError::Database(e) if database_unavailable(e) => ErrorCode::DatabaseUnavailable,
            AppError::Database(e) => {
                constraint_violation(e).map_or(ErrorCode::InternalError, |(c, _)| c)
            }
            AppError::Redis(_) => ErrorCode::CacheUnavailable,
            AppError::Internal(_) => ErrorCode::InternalError,
            AppError::RateLimited(_) => ErrorCode::RateLimited,
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
            AppError::Database(e) if database_unavailable(e) => ApiErrorBody::new(
                ErrorCode::DatabaseUnavailable,
                "database unavailable, retry shortly",
            ),
            AppError::Database(e) => match constraint_violation(e) {
                Some((code, message)) => ApiErrorBody::new(code, message),
                None => ApiErrorBody::new(ErrorCode::InternalError, "internal error"),
            },
            AppError::Redis(_) => ApiErrorBody::new(
                ErrorCode::CacheUnavailable,
                "cache unavailable, retry shortly",
            ),
            AppError::Internal(_) => ApiErrorBody::new(ErrorCode::InternalError, "internal error"),
            AppError::RateLimited(status) => ApiErrorBody {
                code: ErrorCode::RateLimited,
                message: status.message(),
                details: Some(status.details()),
            },
        }
    }
}

impl AppError {
    /// `body()`, after logging the error as its kind deserves (an internal
    /// cause at error level; it never reaches the body).
    pub fn logged_body(&self) -> ApiErrorBody {
        let body = self.body();
        match self {
            AppError::Client { .. } | AppError::RateLimited(_) => {
                tracing::debug!(code = %body.code, "request rejected: {}", body.message)
            }
            AppError::Database(_) if body.code.http_status() < 500 => {
                tracing::info!(code = %body.code, error = %self, "constraint violation")
            }
            _ => tracing::error!(code = %body.code, error = %self, "request failed"),
        }
        body
    }
}

/// Seconds a client should wait before retrying after a dependency outage:
/// Redis answers again within a probe interval, a restarted Postgres in a few seconds.
const CACHE_RETRY_AFTER_SECS: u64 = 1;
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// Postgres is unreachable or not answering, as opposed to refusing this
/// statement: no connection in the acquire timeout, a connection lost (crash,
/// restart, network), the server starting up or shutting down, out of
/// connections or resources, the statement timeout, or a read-only failover target.
/// These are retryable, so clients get 503 DATABASE_UNAVAILABLE, never a 500.
pub fn database_unavailable(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        E::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") // connection exception
                || c.starts_with("53") // insufficient resources
                || c.starts_with("57P") // admin/crash shutdown, cannot connect now
                || c == "57014" // query canceled: statement_timeout
                || c == "25006" // read-only transaction: a standby after failover
        }),
        _ => false,
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
        let body = self.logged_body();
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = match body.code {
            ErrorCode::CacheUnavailable => Some(CACHE_RETRY_AFTER_SECS),
            ErrorCode::DatabaseUnavailable => Some(DATABASE_RETRY_AFTER_SECS),
            _ => None,
        };
        let mut response = (status, Json(Envelope::err(body))).into_response();
        if let AppError::RateLimited(limit) = &self {
            for (name, value) in limit.headers(true) {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, v);
                }
            }
        }
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status and `Retry-After` of the response.
    fn answer(e: AppError) -> (u16, Option<String>) {
        let r = e.into_response();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), retry)
    }

    #[test]
    fn an_unreachable_database_is_a_retryable_503() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            let err = AppError::Database(e);
            assert_eq!(err.code(), ErrorCode::DatabaseUnavailable);
            assert_eq!(err.body().code, ErrorCode::DatabaseUnavailable);
            let (status, retry) = answer(err);
            assert_eq!(status, 503);
            assert_eq!(retry.as_deref(), Some("2"));
        }
        // anything else stays an internal error
        let other = AppError::Database(sqlx::Error::RowNotFound);
        assert_eq!(other.code(), ErrorCode::InternalError);
        assert_eq!(answer(other), (500, None));
    }

    #[test]
    fn a_redis_failure_reaching_a_client_is_cache_unavailable() {
        let err = AppError::Redis(redis::RedisError::from((redis::ErrorKind::IoError, "down")));
        assert_eq!(err.code(), ErrorCode::CacheUnavailable);
        let (status, retry) = answer(err);
        assert_eq!(status, 503);
        assert_eq!(retry.as_deref(), Some("1"));
    }
}
