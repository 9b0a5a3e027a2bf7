use shared_types::ErrorCode;

/// Why a token (or a JWKS document) was rejected.
///
/// Every message is short and safe to show to clients: it never contains the
/// token, a claim value or key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// No token at all (empty or whitespace).
    TokenMissing,
    /// Not a well-formed JWS/JWT, or a required claim (`exp`) is missing or not a number.
    TokenMalformed(&'static str),
    /// `alg: none`, an algorithm other than HS256/RS256/ES256, an algorithm that
    /// is not configured, or one that does not match the key the `kid` names.
    TokenAlgorithmNotAllowed,
    TokenSignatureInvalid,
    /// `now > exp + leeway`.
    TokenExpired,
    /// `nbf > now + leeway`.
    TokenNotYetValid,
    /// `exp - iat` (or `exp - now`) is over `JwtConfig::max_lifetime_secs`.
    TokenLifetimeTooLong,
    TokenIssuerInvalid,
    TokenAudienceInvalid,
    /// The user claim is missing, null, empty, not a string/integer, longer than
    /// 128 bytes, not printable ASCII, or has surrounding spaces.
    TokenSubjectMissing(&'static str),
    /// RS256/ES256 with a `kid` that is not in the key set (or no `kid` and no
    /// single candidate). The caller should refetch the JWKS, rate-limited, and retry once.
    TokenUnknownKey,
    /// The user was deleted in TMS and the token was issued before (the deny list).
    TokenRevoked,
    /// The JWKS document itself could not be used (not a token rejection).
    JwksInvalid(&'static str),
}

impl JwtError {
    /// The wire error code for this rejection.
    pub const fn code(&self) -> ErrorCode {
        match self {
            JwtError::TokenMissing => ErrorCode::TokenMissing,
            JwtError::TokenMalformed(_) => ErrorCode::TokenMalformed,
            JwtError::TokenAlgorithmNotAllowed => ErrorCode::TokenAlgorithmNotAllowed,
            JwtError::TokenSignatureInvalid => ErrorCode::TokenSignatureInvalid,
            JwtError::TokenExpired => ErrorCode::TokenExpired,
            JwtError::TokenNotYetValid => ErrorCode::TokenNotYetValid,
            JwtError::TokenLifetimeTooLong => ErrorCode::TokenLifetimeTooLong,
            JwtError::TokenIssuerInvalid => ErrorCode::TokenIssuerInvalid,
            JwtError::TokenAudienceInvalid => ErrorCode::TokenAudienceInvalid,
            JwtError::TokenSubjectMissing(_) => ErrorCode::TokenSubjectMissing,
            JwtError::TokenUnknownKey => ErrorCode::TokenUnknownKey,
            JwtError::TokenRevoked => ErrorCode::TokenRevoked,
            // The identity provider served keys we cannot use: a TMS-side failure.
            JwtError::JwksInvalid(_) => ErrorCode::TmsUnavailable,
        }
    }

    /// A short human message, safe for clients.
    pub const fn message(&self) -> &'static str {
        match self {
            JwtError::TokenMissing => "token missing",
            JwtError::TokenMalformed(why) => why,
            JwtError::TokenAlgorithmNotAllowed => "token algorithm not allowed",
            JwtError::TokenSignatureInvalid => "token signature invalid",
            JwtError::TokenExpired => "token expired",
            JwtError::TokenNotYetValid => "token not yet valid",
            JwtError::TokenLifetimeTooLong => "token lifetime exceeds the allowed maximum",
            JwtError::TokenIssuerInvalid => "token issuer invalid",
            JwtError::TokenAudienceInvalid => "token audience invalid",
            JwtError::TokenSubjectMissing(why) => why,
            JwtError::TokenUnknownKey => "token signing key unknown",
            JwtError::TokenRevoked => "the token's user was deleted",
            JwtError::JwksInvalid(why) => why,
        }
    }
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for JwtError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_rejection_maps_to_a_401_token_code() {
        let all = [
            JwtError::TokenMissing,
            JwtError::TokenMalformed("x"),
            JwtError::TokenAlgorithmNotAllowed,
            JwtError::TokenSignatureInvalid,
            JwtError::TokenExpired,
            JwtError::TokenNotYetValid,
            JwtError::TokenLifetimeTooLong,
            JwtError::TokenIssuerInvalid,
            JwtError::TokenAudienceInvalid,
            JwtError::TokenSubjectMissing("x"),
            JwtError::TokenUnknownKey,
            JwtError::TokenRevoked,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|e| e.code()).collect();
        assert!(codes.iter().all(|c| c.http_status() == 401));
        assert!(codes.iter().all(|c| c.as_str().starts_with("TOKEN_")));
        assert_eq!(codes.len(), all.len(), "each rejection has its own code");
    }
}
