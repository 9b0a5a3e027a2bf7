//! Dev/test token issuing, as the real TMS would issue them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys::KeySet;

/// Default lifetime of issued tokens: one hour.
pub const DEFAULT_TTL_SECS: i64 = 3600;

/// The signing algorithm of a dev token. `none` produces an unsigned token,
/// which exists only so tests can prove that it is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlg {
    #[default]
    HS256,
    RS256,
    ES256,
    #[serde(rename = "none")]
    None,
}

/// Body of `POST /dev/token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub sub: String,
    #[serde(default)]
    pub alg: TokenAlg,
    /// Lifetime in seconds; negative gives an already expired token.
    #[serde(default = "default_ttl")]
    pub ttl_secs: i64,
    /// Extra claims, merged last: they may override `sub`, `iat`, `exp`,
    /// `nbf`, `iss` or `aud`, and a `null` value removes that claim.
    #[serde(default)]
    pub extra: Map<String, Value>,
    /// Issue a token even when `sub` is not a known user.
    #[serde(default)]
    pub allow_unknown: bool,
    /// Overrides the `kid` header (by default: the key's kid; none for HS256).
    #[serde(default)]
    pub kid: Option<String>,
}

fn default_ttl() -> i64 {
    DEFAULT_TTL_SECS
}

impl TokenRequest {
    /// An HS256 token for `sub`, valid for an hour.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            alg: TokenAlg::HS256,
            ttl_secs: DEFAULT_TTL_SECS,
            extra: Map::new(),
            allow_unknown: false,
            kid: None,
        }
    }

    pub fn alg(mut self, alg: TokenAlg) -> Self {
        self.alg = alg;
        self
    }

    pub fn ttl_secs(mut self, ttl_secs: i64) -> Self {
        self.ttl_secs = ttl_secs;
        self
    }

    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    pub fn allow_unknown(mut self) -> Self {
        self.allow_unknown = true;
        self
    }

    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }
}

/// Response of the token endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub alg: TokenAlg,
    #[serde(default)]
    pub kid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    UnknownUser(String),
    Signing(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::UnknownUser(sub) => write!(f, "unknown user `{sub}`"),
            TokenError::Signing(e) => write!(f, "signing failed: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

pub(crate) struct Issuer<'a> {
    pub secret: &'a str,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub keys: &'a KeySet,
}

impl Issuer<'_> {
    /// Signs `req` (the caller has already checked that the user exists).
    pub fn issue(&self, req: &TokenRequest, now: i64) -> Result<IssuedToken, TokenError> {
        let expires_at = now.saturating_add(req.ttl_secs);
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(req.sub.clone()));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("nbf".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(expires_at));
        if let Some(iss) = self.issuer {
            claims.insert("iss".into(), Value::from(iss));
        }
        if let Some(aud) = self.audience {
            claims.insert("aud".into(), Value::from(aud));
        }
        for (name, value) in &req.extra {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }

        let (key, default_kid): (EncodingKey, Option<&str>) = match req.alg {
            TokenAlg::None => {
                return Ok(IssuedToken {
                    token: unsigned(&claims, req.kid.as_deref()),
                    expires_at,
                    alg: TokenAlg::None,
                    kid: req.kid.clone(),
                })
            }
            TokenAlg::HS256 => (EncodingKey::from_secret(self.secret.as_bytes()), None),
            TokenAlg::RS256 => (self.keys.rs256.encoding.clone(), Some(&self.keys.rs256.kid)),
            TokenAlg::ES256 => (self.keys.es256.encoding.clone(), Some(&self.keys.es256.kid)),
        };
        let mut header = Header::new(match req.alg {
            TokenAlg::RS256 => Algorithm::RS256,
            TokenAlg::ES256 => Algorithm::ES256,
            _ => Algorithm::HS256,
        });
        header.kid = req.kid.clone().or(default_kid.map(str::to_owned));
        let token =
            encode(&header, &claims, &key).map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            token,
            expires_at,
            alg: req.alg,
            kid: header.kid,
        })
    }
}

fn unsigned(claims: &Map<String, Value>, kid: Option<&str>) -> String {
    let mut header = serde_json::json!({"alg": "none", "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = Value::from(kid);
    }
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"));
    format!(
        "{}.{}.",
        part(&header),
        part(&Value::Object(claims.clone()))
    )
}
