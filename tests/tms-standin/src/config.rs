//! Configuration of the stand-in: typed, with dev defaults, read from the
//! environment by the binary and built directly by in-process tests.

use std::fmt;
use std::net::SocketAddr;

/// Default listen address of the binary (`TMS_STANDIN_ADDR`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:8100";
/// Default API key (`TMS_API_KEY`), the same as core's dev default.
pub const DEFAULT_API_KEY: &str = "dev-tms-api-key";
/// Default HS256 secret (`JWT_SECRET`), the same as core's dev default.
pub const DEFAULT_JWT_SECRET: &str = "dev-jwt-secret-0123456789abcdef0123456789";
/// HS256 secrets shorter than this are refused (core requires at least 32 bytes too).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// How the stand-in is set up. `Config::default()` is the dev setup on an
/// ephemeral port (`127.0.0.1:0`), which is what in-process tests want.
#[derive(Clone)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port; `RunningStandIn::addr` tells which.
    pub addr: SocketAddr,
    /// Value expected in the `X-API-Key` header of the user routes.
    pub api_key: String,
    /// HS256 signing secret, at least 32 bytes.
    pub jwt_secret: String,
    /// `iss` claim of issued tokens, when set.
    pub issuer: Option<String>,
    /// `aud` claim of issued tokens, when set.
    pub audience: Option<String>,
    /// Where `PUT`/`DELETE /__control/users/{id}` send the signed
    /// `user.updated`/`user.deleted` webhook (core's `/api/v1/webhooks/tms`).
    pub webhook_url: Option<String>,
    /// HMAC secret of those webhooks (core's `TMS_WEBHOOK_SECRET`).
    pub webhook_secret: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: DEFAULT_API_KEY.to_owned(),
            jwt_secret: DEFAULT_JWT_SECRET.to_owned(),
            issuer: None,
            audience: None,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

// Secrets stay out of logs and panic messages.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("api_key", &"<redacted>")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"<redacted>")
            .finish()
    }
}

/// Every problem found in the configuration, named one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tms-standin configuration:")?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `TMS_STANDIN_ADDR`, `TMS_API_KEY`, `JWT_SECRET`, `TMS_ISSUER`,
    /// `TMS_AUDIENCE`, `TMS_WEBHOOK_URL` and `TMS_WEBHOOK_SECRET`; unset or
    /// empty variables take the dev defaults (no webhooks).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], with the variables looked up by `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let addr_text = get("TMS_STANDIN_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let addr = match addr_text.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                problems.push(format!(
                    "TMS_STANDIN_ADDR: `{addr_text}` is not an ip:port address (e.g. {DEFAULT_ADDR})"
                ));
                DEFAULT_ADDR.parse().expect("default address parses")
            }
        };
        let config = Self {
            addr,
            api_key: get("TMS_API_KEY").unwrap_or_else(|| DEFAULT_API_KEY.to_owned()),
            jwt_secret: get("JWT_SECRET").unwrap_or_else(|| DEFAULT_JWT_SECRET.to_owned()),
            issuer: get("TMS_ISSUER"),
            audience: get("TMS_AUDIENCE"),
            webhook_url: get("TMS_WEBHOOK_URL"),
            webhook_secret: get("TMS_WEBHOOK_SECRET"),
        };
        if let Err(ConfigError(more)) = config.validate() {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Checks the values that a caller may have set by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            problems.push(format!(
                "JWT_SECRET: must be at least {MIN_JWT_SECRET_BYTES} bytes (got {})",
                self.jwt_secret.len()
            ));
        }
        if self.api_key.is_empty() {
            problems.push("TMS_API_KEY: must not be empty".to_owned());
        }
        if self.webhook_url.is_some() != self.webhook_secret.is_some() {
            problems.push("TMS_WEBHOOK_URL and TMS_WEBHOOK_SECRET: set both or neither".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(config.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(config.api_key, DEFAULT_API_KEY);
        assert_eq!(config.jwt_secret, DEFAULT_JWT_SECRET);
        assert_eq!(config.issuer, None);
        assert_eq!(config.audience, None);
    }

    #[test]
    fn values_are_read() {
        let config = Config::from_lookup(lookup(&[
            ("TMS_STANDIN_ADDR", "127.0.0.1:9100"),
            ("TMS_API_KEY", "k"),
            ("JWT_SECRET", "s".repeat(40).as_str()),
            ("TMS_ISSUER", "https://tms.example.test"),
            ("TMS_AUDIENCE", "teamchat"),
        ]))
        .unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.api_key, "k");
        assert_eq!(config.issuer.as_deref(), Some("https://tms.example.test"));
        assert_eq!(config.audience.as_deref(), Some("teamchat"));
    }

    #[test]
    fn short_secret_and_bad_address_are_both_named() {
        let err = Config::from_lookup(lookup(&[
            ("TMS_STANDIN_ADDR", "nope"),
            ("JWT_SECRET", "too-short"),
        ]))
        .unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        let text = err.to_string();
        assert!(text.contains("TMS_STANDIN_ADDR"), "{text}");
        assert!(text.contains("JWT_SECRET"), "{text}");
        assert!(!text.contains("too-short"), "the secret leaked: {text}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", Config::default());
        assert!(!text.contains(DEFAULT_JWT_SECRET));
        assert!(!text.contains(DEFAULT_API_KEY));
    }
}
