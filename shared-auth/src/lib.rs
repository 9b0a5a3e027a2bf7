//! The one implementation of the auth rules shared by edge (wasm32) and core (native):
//!
//! - [`jwt`]: verification of TMS-issued JWTs (HS256, RS256/ES256 via JWKS).
//! - [`internal_sig`]: HMAC-SHA256 signing of the internal edge ⇄ core API.
//! - [`jwks_gate`]: when a JWKS refetch may start (one in flight, a least
//!   interval after the end of the last one).
//! - [`deny_list`]: the users TMS deleted, refused by core and edge alike.
//! - [`deploy_policy`]: the settings no deployment outside development may
//!   run with (dev secrets, wildcard origins, no `iss`…), for core and edge.
//! - [`webhook_sig`]: the TMS webhook's `X-TMS-Signature` (sign and verify).
//! - [`oss_sig`]: Alibaba Cloud OSS V4 signatures in URLs (core presigns,
//!   the OSS stand-in verifies).
//!
//! Pure functions only: no I/O, no async runtime and no system clock. Callers pass
//! the current time (`now_unix`, seconds) and the key material, which keeps both
//! sides deterministic in tests and lets the same code run on Cloudflare Workers.

pub mod deny_list;
pub mod deploy_policy;
pub mod internal_sig;
pub mod jwks_gate;
pub mod jwt;
pub mod oss_sig;
pub mod webhook_sig;

pub use internal_sig::SigError;
pub use jwt::{JwkKeys, JwtConfig, JwtError, TokenAlgorithm, VerifiedToken};

/// The token of an `Authorization: Bearer <token>` header value (scheme in
/// any case, surrounding spaces dropped); `None` when there is none. The one
/// parser of edge and core.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    let (scheme, token) = header_value.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(token.trim()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token(""), None);
    }
}
