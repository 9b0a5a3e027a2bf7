//! TMS JWT verification: the rules both edge and core apply to a bearer token.
//!
//! Order of checks (the first failure wins):
//! 1. shape: non-empty, at most [`MAX_TOKEN_BYTES`], three base64url segments,
//!    header is a JSON object with a string `alg` and no `crit`;
//! 2. algorithm: `none` (any case) and anything but HS256/RS256/ES256 are refused;
//!    HS256 needs a configured secret, RS256/ES256 a JWKS key published for exactly that alg;
//! 3. signature (`jsonwebtoken::crypto::verify`: crypto only, no claim or clock checks);
//! 4. claims against the caller's clock: `exp` (required), `nbf`, the lifetime
//!    (`exp - iat`, or `exp - now` without `iat`, at most `max_lifetime_secs`),
//!    `iss`, `aud`, user claim.
//!
//! Claims are only looked at after the signature holds, so an attacker learns
//! nothing about claim rules from forged tokens.

mod claims;
mod error;
mod keys;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey};

pub use error::JwtError;
pub use keys::JwkKeys;

/// Larger tokens are refused before any parsing or crypto.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The longest accepted `tms_user_id`, in bytes (the rule is `shared_types::TmsUserId`).
pub use shared_types::ids::MAX_TMS_USER_ID_BYTES as MAX_USER_ID_BYTES;
/// HS256 secrets shorter than this are never used to verify (see [`JwtConfig::validate`]).
pub const MIN_HS256_SECRET_BYTES: usize = 32;
/// The longest token lifetime accepted unless configured otherwise (24 hours).
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// How tokens are checked. Build it once from the environment.
#[derive(Clone)]
pub struct JwtConfig {
    /// `JWT_SECRET`; enables HS256. Must be at least 32 bytes, otherwise HS256 stays disabled.
    pub hs256_secret: Option<Vec<u8>>,
    /// Required `iss` when set.
    pub issuer: Option<String>,
    /// Required `aud` (the token's `aud` may be a string or an array) when set.
    pub audience: Option<String>,
    /// The claim holding the `tms_user_id`; default `sub`.
    pub user_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`; default 30 s.
    pub leeway_secs: u64,
    /// Longest accepted lifetime: `exp - iat` (or `exp - now` when `iat` is
    /// missing or in the future); default [`DEFAULT_MAX_LIFETIME_SECS`].
    pub max_lifetime_secs: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            hs256_secret: None,
            issuer: None,
            audience: None,
            user_claim: "sub".to_owned(),
            leeway_secs: 30,
            max_lifetime_secs: DEFAULT_MAX_LIFETIME_SECS,
        }
    }
}

impl JwtConfig {
    /// Startup check with a message per problem (for config validation at boot).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self
            .hs256_secret
            .as_ref()
            .is_some_and(|secret| secret.len() < MIN_HS256_SECRET_BYTES)
        {
            return Err("JWT_SECRET must be at least 32 bytes");
        }
        if self.max_lifetime_secs == 0 {
            return Err("JWT_MAX_LIFETIME_SECS must be at least 1");
        }
        if self.user_claim.trim().is_empty() {
            return Err("the JWT user claim name must not be empty");
        }
        Ok(())
    }

    fn usable_hs256_secret(&self) -> Option<&[u8]> {
        self.hs256_secret
            .as_deref()
            .filter(|secret| secret.len() >= MIN_HS256_SECRET_BYTES)
    }
}

impl std::fmt::Debug for JwtConfig {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("user_claim", &self.user_claim)
            .field("leeway_secs", &self.leeway_secs)
            .field("max_lifetime_secs", &self.max_lifetime_secs)
            .finish()
    }
}

/// The only algorithms a TMS token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenAlgorithm {
    Hs256,
    Rs256,
    Es256,
}

impl TokenAlgorithm {
    /// The JOSE name, e.g. `"RS256"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenAlgorithm::Hs256 => "HS256",
            TokenAlgorithm::Rs256 => "RS256",
            TokenAlgorithm::Es256 => "ES256",
        }
    }

    /// JOSE algorithm names are case-sensitive (RFC 7515 §4.1.1).
    fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "HS256" => Some(TokenAlgorithm::Hs256),
            "RS256" => Some(TokenAlgorithm::Rs256),
            "ES256" => Some(TokenAlgorithm::Es256),
            _ => None,
        }
    }

    fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            TokenAlgorithm::Hs256 => Algorithm::HS256,
            TokenAlgorithm::Rs256 => Algorithm::RS256,
            TokenAlgorithm::Es256 => Algorithm::ES256,
        }
    }
}

/// A token that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The user id read from [`JwtConfig::user_claim`] (numbers are stringified).
    pub tms_user_id: String,
    /// All claims, as sent.
    pub claims: serde_json::Value,
    /// `exp`, unix seconds (fractions dropped); callers may cache the verdict until then.
    pub expires_at: u64,
}

/// Verifies a TMS JWT against `config`, `keys` and the caller's clock `now_unix`.
///
/// On [`JwtError::TokenUnknownKey`] the caller should refetch the JWKS (rate-limited)
/// and call again once. A caller without a JWKS URL passes [`JwkKeys::empty()`] and
/// treats that error as final.
pub fn verify(
    token: &str,
    config: &JwtConfig,
    keys: &JwkKeys,
    now_unix: u64,
) -> Result<VerifiedToken, JwtError> {
    if token.trim().is_empty() {
        return Err(JwtError::TokenMissing);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::TokenMalformed("token too large"));
    }
    let header = RawHeader::parse(token)?;
    let algorithm =
        TokenAlgorithm::from_header(&header.alg).ok_or(JwtError::TokenAlgorithmNotAllowed)?;

    let hs256_key;
    let key = match algorithm {
        TokenAlgorithm::Hs256 => {
            let secret = config
                .usable_hs256_secret()
                .ok_or(JwtError::TokenAlgorithmNotAllowed)?;
            hs256_key = DecodingKey::from_secret(secret);
            &hs256_key
        }
        TokenAlgorithm::Rs256 | TokenAlgorithm::Es256 => {
            keys.select(header.kid.as_deref(), algorithm)?
        }
    };

    let claims = verify_signature(token, key, algorithm)?;
    claims::check(claims, config, now_unix)
}

/// The header fields we decide on, read from the raw JSON so that tokens
/// jsonwebtoken cannot even parse (e.g. `alg: none`) still get the right verdict.
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

impl RawHeader {
    fn parse(token: &str) -> Result<Self, JwtError> {
        let mut segments = token.split('.');
        let header_b64 = segments.next().unwrap_or_default();
        // Exactly three segments: a 5-part JWE or a 2-part fragment is not a JWS.
        if segments.count() != 2 {
            return Err(JwtError::TokenMalformed("token must have three segments"));
        }
        let header_bytes = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| JwtError::TokenMalformed("token header is not base64url"))?;
        let header: serde_json::Value = serde_json::from_slice(&header_bytes)
            .map_err(|_| JwtError::TokenMalformed("token header is not JSON"))?;
        let header = header.as_object().ok_or(JwtError::TokenMalformed(
            "token header is not a JSON object",
        ))?;

        let alg = header
            .get("alg")
            .and_then(|alg| alg.as_str())
            .ok_or(JwtError::TokenMalformed("token header has no alg"))?;
        if alg.trim().eq_ignore_ascii_case("none") {
            return Err(JwtError::TokenAlgorithmNotAllowed);
        }
        // RFC 7515 §4.1.11: extensions we do not understand must be rejected.
        if header.contains_key("crit") {
            return Err(JwtError::TokenMalformed(
                "token header has unsupported crit",
            ));
        }
        let kid = match header.get("kid") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(JwtError::TokenMalformed("token header kid is not a string")),
        };
        Ok(Self {
            alg: alg.to_owned(),
            kid,
        })
    }
}

/// Signature only, then the payload as plain JSON. `jsonwebtoken::decode` is not
/// used: it would run its own claim parser (which fails on e.g. an object-valued
/// `sub` before our rules see it) and its clock-based checks; here every claim
/// rule lives in [`claims::check`] with the injected clock.
fn verify_signature(
    token: &str,
    key: &DecodingKey,
    algorithm: TokenAlgorithm,
) -> Result<serde_json::Value, JwtError> {
    // `RawHeader::parse` already guaranteed exactly three segments.
    let (signed_part, signature_b64) = token
        .rsplit_once('.')
        .ok_or(JwtError::TokenMalformed("token must have three segments"))?;
    let (_, payload_b64) = signed_part
        .split_once('.')
        .ok_or(JwtError::TokenMalformed("token must have three segments"))?;

    let signature_holds = jsonwebtoken::crypto::verify(
        signature_b64,
        signed_part.as_bytes(),
        key,
        algorithm.to_jsonwebtoken(),
    )
    .map_err(|err| match err.kind() {
        ErrorKind::Base64(_) => JwtError::TokenMalformed("token signature is not base64url"),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            JwtError::TokenAlgorithmNotAllowed
        }
        // A key that cannot verify (e.g. an EC point off the curve) cannot vouch for the token.
        _ => JwtError::TokenSignatureInvalid,
    })?;
    if !signature_holds {
        return Err(JwtError::TokenSignatureInvalid);
    }

    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| JwtError::TokenMalformed("token payload is not base64url"))?;
    serde_json::from_slice(&payload)
        .map_err(|_| JwtError::TokenMalformed("token payload is not JSON"))
}
