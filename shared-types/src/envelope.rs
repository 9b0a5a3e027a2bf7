use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// `{"success":true,"data":…,"error":null}` or
/// `{"success":false,"data":null,"error":{"code","message","details"}}`.
/// List endpoints add `pagination`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: Option<T>,
    pub error: Option<ApiErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            success: true,
            data: Some(data),
            error: None,
            pagination: None,
        }
    }

    pub fn page(data: T, pagination: Pagination) -> Self {
        Self {
            success: true,
            data: Some(data),
            error: None,
            pagination: Some(pagination),
        }
    }
}

impl<T> Envelope<T> {
    /// A failure where a `T` would have been (one item of a batch answer).
    pub fn failure(error: ApiErrorBody) -> Self {
        Self {
            success: false,
            data: None,
            error: Some(error),
            pagination: None,
        }
    }
}

impl Envelope<()> {
    pub fn err(error: ApiErrorBody) -> Self {
        Self {
            success: false,
            data: None,
            error: Some(error),
            pagination: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

impl ApiErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }
}

/// Cursor pagination: pass `next_cursor` back as `?cursor=` while `has_more`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pagination {
    pub next_cursor: Option<String>,
    pub has_more: bool,
}
