use serde::{Deserialize, Serialize};

/// The one error-code enum shared by edge, core and clients. Serialized as
/// `SCREAMING_SNAKE_CASE` strings in `error.code` of the envelope and in
/// Socket.IO ack errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    // 400
    BadRequest,
    InvalidJson,
    ValidationError,
    // 401: one code per JWT rejection so clients and logs can tell them apart
    TokenMissing,
    TokenMalformed,
    TokenAlgorithmNotAllowed,
    TokenSignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    /// `exp - iat` is over `JWT_MAX_LIFETIME_SECS`.
    TokenLifetimeTooLong,
    TokenIssuerInvalid,
    TokenAudienceInvalid,
    TokenSubjectMissing,
    TokenUnknownKey,
    /// The token's user was deleted in TMS (the deny list of core and edge).
    TokenRevoked,
    InternalAuthFailed,
    /// `POST /webhooks/tms`: `X-TMS-Signature` missing, wrong, stale or replayed.
    WebhookSignatureInvalid,
    // 403 / 404 / 405
    Forbidden,
    NotFound,
    MethodNotAllowed,
    // 409 / 413 / 415 / 422
    Conflict,
    /// The user asked for is already in another ringing or ongoing call.
    Busy,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnknownUser,
    Unprocessable,
    /// `GET /sync`: the cursor is older than the feed keeps changes
    /// (`SYNC_RETENTION_DAYS`); reload the conversation list and messages,
    /// then follow the feed from a fresh cursor.
    SyncCursorExpired,
    // 429
    RateLimited,
    /// A CONNECT past `MAX_SOCKETS_PER_USER` sockets of one user on one gateway.
    TooManySockets,
    // 5xx
    InternalError,
    TmsUnavailable,
    ServiceUnavailable,
    EdgeUnavailable,
    /// The edge could not reach core in time (sockets and REST alike).
    CoreUnavailable,
    /// Redis is down and the answer needs it (no fallback could serve it).
    CacheUnavailable,
    /// Postgres is down or its pool is exhausted; retry after `Retry-After`.
    DatabaseUnavailable,
    /// File uploads are off: this deployment has no object storage (`OSS_*`) configured.
    StorageNotConfigured,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | InvalidJson => 400,
            TokenMissing
            | TokenMalformed
            | TokenAlgorithmNotAllowed
            | TokenSignatureInvalid
            | TokenExpired
            | TokenNotYetValid
            | TokenLifetimeTooLong
            | TokenIssuerInvalid
            | TokenAudienceInvalid
            | TokenSubjectMissing
            | TokenUnknownKey
            | TokenRevoked
            | InternalAuthFailed
            | WebhookSignatureInvalid => 401,
            Forbidden => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            Conflict | Busy => 409,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            // like the original FastAPI design: input that parses but breaks a rule is 422
            ValidationError | UnknownUser | Unprocessable => 422,
            SyncCursorExpired => 410,
            RateLimited | TooManySockets => 429,
            InternalError => 500,
            EdgeUnavailable => 502,
            TmsUnavailable | ServiceUnavailable | CoreUnavailable | CacheUnavailable
            | DatabaseUnavailable | StorageNotConfigured => 503,
        }
    }

    /// The wire string, e.g. `"TOKEN_EXPIRED"`; matches the serde spelling (tested).
    pub const fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "BAD_REQUEST",
            InvalidJson => "INVALID_JSON",
            ValidationError => "VALIDATION_ERROR",
            TokenMissing => "TOKEN_MISSING",
            TokenMalformed => "TOKEN_MALFORMED",
            TokenAlgorithmNotAllowed => "TOKEN_ALGORITHM_NOT_ALLOWED",
            TokenSignatureInvalid => "TOKEN_SIGNATURE_INVALID",
            TokenExpired => "TOKEN_EXPIRED",
            TokenNotYetValid => "TOKEN_NOT_YET_VALID",
            TokenLifetimeTooLong => "TOKEN_LIFETIME_TOO_LONG",
            TokenIssuerInvalid => "TOKEN_ISSUER_INVALID",
            TokenAudienceInvalid => "TOKEN_AUDIENCE_INVALID",
            TokenSubjectMissing => "TOKEN_SUBJECT_MISSING",
            TokenUnknownKey => "TOKEN_UNKNOWN_KEY",
            TokenRevoked => "TOKEN_REVOKED",
            InternalAuthFailed => "INTERNAL_AUTH_FAILED",
            WebhookSignatureInvalid => "WEBHOOK_SIGNATURE_INVALID",
            Forbidden => "FORBIDDEN",
            NotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Conflict => "CONFLICT",
            Busy => "BUSY",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            UnknownUser => "UNKNOWN_USER",
            Unprocessable => "UNPROCESSABLE",
            SyncCursorExpired => "SYNC_CURSOR_EXPIRED",
            RateLimited => "RATE_LIMITED",
            TooManySockets => "TOO_MANY_SOCKETS",
            InternalError => "INTERNAL_ERROR",
            TmsUnavailable => "TMS_UNAVAILABLE",
            ServiceUnavailable => "SERVICE_UNAVAILABLE",
            EdgeUnavailable => "EDGE_UNAVAILABLE",
            CoreUnavailable => "CORE_UNAVAILABLE",
            CacheUnavailable => "CACHE_UNAVAILABLE",
            DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            StorageNotConfigured => "STORAGE_NOT_CONFIGURED",
        }
    }

    /// Every code, for exhaustive tests and docs.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadRequest,
        ErrorCode::InvalidJson,
        ErrorCode::ValidationError,
        ErrorCode::TokenMissing,
        ErrorCode::TokenMalformed,
        ErrorCode::TokenAlgorithmNotAllowed,
        ErrorCode::TokenSignatureInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::TokenNotYetValid,
        ErrorCode::TokenLifetimeTooLong,
        ErrorCode::TokenIssuerInvalid,
        ErrorCode::TokenAudienceInvalid,
        ErrorCode::TokenSubjectMissing,
        ErrorCode::TokenUnknownKey,
        ErrorCode::TokenRevoked,
        ErrorCode::InternalAuthFailed,
        ErrorCode::WebhookSignatureInvalid,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::Busy,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UnknownUser,
        ErrorCode::Unprocessable,
        ErrorCode::SyncCursorExpired,
        ErrorCode::RateLimited,
        ErrorCode::TooManySockets,
        ErrorCode::InternalError,
        ErrorCode::TmsUnavailable,
        ErrorCode::ServiceUnavailable,
        ErrorCode::EdgeUnavailable,
        ErrorCode::CoreUnavailable,
        ErrorCode::CacheUnavailable,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::StorageNotConfigured,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_screaming_snake() {
        assert_eq!(ErrorCode::TmsUnavailable.as_str(), "TMS_UNAVAILABLE");
        assert_eq!(ErrorCode::TokenNotYetValid.as_str(), "TOKEN_NOT_YET_VALID");
        let parsed: ErrorCode = serde_json::from_str("\"RATE_LIMITED\"").unwrap();
        assert_eq!(parsed, ErrorCode::RateLimited);
        assert_eq!(parsed.http_status(), 429);
    }

    #[test]
    fn as_str_matches_serde_for_every_code() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json.as_str(), Some(code.as_str()));
        }
    }
}
