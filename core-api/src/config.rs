//! Typed configuration from the environment, validated once at start.
//! Every missing or bad variable is reported together, so an operator fixes
//! them in one pass.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_types::origins::AllowedOrigins;

mod files;

pub use files::{FilesConfig, OssSettings, UploadRule, UrlStyle};

/// The secrets of `make dev` and `.env.example`: public, so refused in production.
pub const DEV_SECRETS: [(&str, &str); 5] = [
    ("JWT_SECRET", "dev-jwt-secret-0123456789abcdef0123456789"),
    (
        "INTERNAL_API_SECRET",
        "dev-internal-secret-0123456789abcdef012345",
    ),
    ("TMS_API_KEY", "dev-tms-api-key"),
    (
        "TMS_WEBHOOK_SECRET",
        "dev-tms-webhook-secret-0123456789abcdef0123",
    ),
    // the OSS stand-in's key
    ("OSS_ACCESS_KEY_SECRET", "dev-oss-secret-0123456789abcdef"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    /// `production` refuses the `make dev` secrets (see `DEV_SECRETS`).
    pub environment: Environment,
    /// `DEBUG=true`: debug-level logs when `RUST_LOG` is unset (refused in production).
    pub debug: bool,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// Longest wait for a pooled connection before answering 503 DATABASE_UNAVAILABLE.
    pub database_acquire_timeout: Duration,
    /// Postgres `statement_timeout` of every connection.
    pub database_statement_timeout: Duration,
    /// Group commit: at most this many sends per statement; 1 turns it off.
    pub send_batch_max: usize,
    /// Tasks that store batches in parallel, each for its share of the conversations.
    pub send_writers: usize,
    pub redis_url: SecretString,
    /// Prepended to every Redis key; lets several deployments (or tests) share one Redis.
    pub redis_key_prefix: String,
    /// Bound of one Redis connection attempt.
    pub redis_connect_timeout: Duration,
    /// Bound of one Redis command, script or pipeline.
    pub redis_response_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take before core exits anyway.
    pub shutdown_grace: Duration,
    pub tms: TmsConfig,
    pub jwt: JwtSettings,
    pub internal_api_secret: SecretString,
    /// Core → edge fan-out endpoint; without it core runs standalone and nothing is pushed.
    pub edge_fanout_url: Option<String>,
    pub fanout: FanoutSettings,
    /// How long a user with no socket left still counts as online (no flap on reconnect).
    pub presence_grace: Duration,
    pub allowed_origins: AllowedOrigins,
    /// HMAC secret of `POST /api/v1/webhooks/tms`; unset: the webhook answers 503.
    pub tms_webhook_secret: Option<SecretString>,
    pub calls: CallSettings,
    /// OSS and the upload rules (`config/files.rs`).
    pub files: FilesConfig,
    /// Per-user limits (see `services::rate_limit`).
    pub rate_limits: RateLimitSettings,
    /// Bearer token `GET /metrics` requires; open when unset.
    pub metrics_token: Option<SecretString>,
}

/// Calls (see `services::calls`).
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// How long callees ring before they miss the call.
    pub ring_timeout: Duration,
    /// How often the sweeper looks for rings past their deadline.
    pub sweep_interval: Duration,
}

/// Per-user rate limits, each also the burst allowed after a quiet period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `/api/v1` requests per minute (through the edge and direct alike).
    pub api_per_minute: u32,
    /// Socket `send_message`s per second, counted at core.
    pub socket_sends_per_second: u32,
    /// Upload URLs per minute.
    pub upload_urls_per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct TmsConfig {
    pub base_url: String,
    pub api_key: SecretString,
    pub api_key_header: String,
    /// `{id}` is replaced by the percent-encoded user id.
    pub user_path: String,
    pub users_batch_path: String,
    pub health_path: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub hs256_secret: Option<SecretString>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub user_claim: String,
    pub leeway_secs: u64,
    pub jwks_min_refresh: Duration,
}

/// Core → edge push lanes (see `services::fanout`).
#[derive(Debug, Clone)]
pub struct FanoutSettings {
    /// Lanes, each one task sending in order.
    pub lanes: usize,
    /// Events a lane holds before it drops new ones.
    pub queue_capacity: usize,
    /// Most events in one POST.
    pub max_batch: usize,
    /// Per attempt.
    pub timeout: Duration,
    /// How long shutdown waits for the lanes to empty.
    pub drain: Duration,
}

/// All problems found in the environment, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

const MIN_SECRET_BYTES: usize = 32;
/// A guessable scrape token protects nothing.
const MIN_METRICS_TOKEN_BYTES: usize = 16;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader {
            vars,
            problems: Vec::new(),
        };

        let host = r.optional("HOST").unwrap_or_else(|| "0.0.0.0".into());
        let port: u16 = r.parsed("PORT", 8000);
        let listen_addr = match format!("{host}:{port}").parse() {
            Ok(a) => a,
            Err(_) => {
                r.problem(format!("HOST: `{host}` is not an IP address"));
                SocketAddr::from(([0, 0, 0, 0], port))
            }
        };
        let environment = match r.optional("ENVIRONMENT").as_deref() {
            None | Some("development") => Environment::Development,
            Some("staging") => Environment::Staging,
            Some("production") => Environment::Production,
            Some(other) => {
                r.problem(format!(
                    "ENVIRONMENT: `{other}` is not one of development, staging, production"
                ));
                Environment::Development
            }
        };

        let debug = r.flag("DEBUG");
        if debug && environment == Environment::Production {
            r.problem("DEBUG: must not be true with ENVIRONMENT=production".into());
        }

        let database_url = r.database_url();
        let database_max_connections = r.parsed("DATABASE_MAX_CONNECTIONS", 20u32);
        let database_acquire_timeout = r.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 2000);
        let database_statement_timeout = r.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000);
        let send_batch_max = r.parsed("SEND_BATCH_MAX", 64usize).max(1);
        let send_writers = r.parsed("SEND_WRITERS", 2usize).max(1);
        let redis_url = r.required_url("REDIS_URL", &["redis", "rediss"]);
        let redis_key_prefix = r.optional("REDIS_KEY_PREFIX").unwrap_or_default();
        let redis_connect_timeout = r.millis("REDIS_CONNECT_TIMEOUT_MS", 250);
        let redis_response_timeout = r.millis("REDIS_RESPONSE_TIMEOUT_MS", 1000);
        let shutdown_grace = Duration::from_secs(r.parsed("SHUTDOWN_GRACE_SECS", 10u64));

        let tms = TmsConfig {
            base_url: r
                .required_url("TMS_API_URL", &["http", "https"])
                .expose_secret()
                .trim_end_matches('/')
                .to_string(),
            api_key: r.required_secret("TMS_API_KEY", 1),
            api_key_header: r
                .optional("TMS_API_KEY_HEADER")
                .unwrap_or_else(|| "X-API-Key".into()),
            user_path: r.path("TMS_USER_PATH", "/users/{id}"),
            users_batch_path: r.path("TMS_USERS_BATCH_PATH", "/users/batch"),
            health_path: r.path("TMS_HEALTH_PATH", "/health"),
            timeout: Duration::from_millis(r.parsed("TMS_TIMEOUT_MS", 3000u64)),
        };
        if !tms.user_path.contains("{id}") {
            r.problem("TMS_USER_PATH: must contain `{id}`".into());
        }

        let hs256_secret = r.optional_secret("JWT_SECRET", MIN_SECRET_BYTES);
        let jwks_url = r.optional_url("TMS_JWKS_URL", &["http", "https"]);
        if hs256_secret.is_none() && jwks_url.is_none() && !r.has("JWT_SECRET") {
            r.problem("JWT_SECRET or TMS_JWKS_URL: at least one must be set".into());
        }
        let jwt = JwtSettings {
            hs256_secret,
            jwks_url,
            issuer: r.optional("JWT_ISSUER"),
            audience: r.optional("JWT_AUDIENCE"),
            user_claim: r.optional("JWT_USER_CLAIM").unwrap_or_else(|| "sub".into()),
            leeway_secs: r.parsed("JWT_LEEWAY_SECS", 30u64),
            jwks_min_refresh: Duration::from_secs(r.parsed("JWKS_MIN_REFRESH_SECS", 30u64)),
        };

        let internal_api_secret = r.required_secret("INTERNAL_API_SECRET", MIN_SECRET_BYTES);
        let edge_fanout_url = r.optional_url("EDGE_FANOUT_URL", &["http", "https"]);
        let fanout = FanoutSettings {
            lanes: r.bounded("FANOUT_LANES", 32, 1..=256),
            queue_capacity: r.bounded("FANOUT_QUEUE_CAPACITY", 4096, 1..=1_000_000),
            max_batch: r.bounded("FANOUT_MAX_BATCH", 250, 1..=1000),
            timeout: Duration::from_millis(r.bounded("FANOUT_TIMEOUT_MS", 2000, 1..=60_000) as u64),
            drain: Duration::from_millis(r.bounded("FANOUT_DRAIN_MS", 5000, 0..=300_000) as u64),
        };
        let presence_grace =
            Duration::from_millis(r.bounded("PRESENCE_GRACE_MS", 5000, 0..=300_000) as u64);
        let allowed_origins =
            AllowedOrigins::parse(&r.optional("ALLOWED_ORIGINS").unwrap_or_default())
                .unwrap_or_else(|why| {
                    r.problem(format!("ALLOWED_ORIGINS: {why}"));
                    AllowedOrigins::default()
                });
        let tms_webhook_secret = r.optional_secret("TMS_WEBHOOK_SECRET", MIN_SECRET_BYTES);
        let calls = CallSettings {
            ring_timeout: Duration::from_secs(
                r.bounded("CALL_RING_TIMEOUT_SECS", 45, 1..=600) as u64
            ),
            sweep_interval: Duration::from_millis(r.bounded(
                "CALL_SWEEP_INTERVAL_MS",
                1000,
                10..=60_000,
            ) as u64),
        };
        let files = files::read(&mut r);

        let rate_limits = RateLimitSettings {
            api_per_minute: r.rate_limit("RATE_LIMIT_API_PER_MINUTE", 100),
            socket_sends_per_second: r.rate_limit("RATE_LIMIT_SOCKET_SENDS_PER_SECOND", 10),
            upload_urls_per_minute: r.rate_limit("RATE_LIMIT_UPLOAD_URLS_PER_MINUTE", 5),
        };
        let metrics_token = r.optional_secret("METRICS_TOKEN", MIN_METRICS_TOKEN_BYTES);

        if environment == Environment::Production {
            // the secrets `make dev` and `.env.example` use are public
            for (name, dev_value) in DEV_SECRETS {
                if r.optional(name).as_deref() == Some(dev_value) {
                    r.problem(format!(
                        "{name}: the development default is refused with ENVIRONMENT=production"
                    ));
                }
            }
        }

        if r.problems.is_empty() {
            Ok(Config {
                listen_addr,
                environment,
                debug,
                database_url,
                database_max_connections,
                database_acquire_timeout,
                database_statement_timeout,
                send_batch_max,
                send_writers,
                redis_url,
                redis_key_prefix,
                redis_connect_timeout,
                redis_response_timeout,
                shutdown_grace,
                tms,
                jwt,
                internal_api_secret,
                edge_fanout_url,
                fanout,
                presence_grace,
                calls,
                allowed_origins,
                tms_webhook_secret,
                files,
                rate_limits,
                metrics_token,
            })
        } else {
            Err(ConfigError(r.problems))
        }
    }
}

/// Collects problems instead of stopping at the first.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    fn has(&self, name: &str) -> bool {
        self.vars.get(name).is_some_and(|v| !v.trim().is_empty())
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        match self.optional(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problem(format!("{name}: `{v}` is not a valid value"));
                default
            }),
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, any case: the seed wrote `True`).
    fn flag(&mut self, name: &str) -> bool {
        match self
            .optional(name)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                self.problem(format!("{name}: `{other}` is not true or false"));
                false
            }
        }
    }

    /// `DATABASE_URL`; the seed's SQLAlchemy form `postgresql+asyncpg://…`
    /// names a Python driver, so the `+driver` part is dropped.
    fn database_url(&mut self) -> SecretString {
        let name = "DATABASE_URL";
        let Some(v) = self.optional(name) else {
            self.problem(format!("{name}: missing"));
            return SecretString::from(String::new());
        };
        let Some((scheme, rest)) = v.split_once("://") else {
            self.problem(format!("{name}: must be a postgres:// URL"));
            return SecretString::from(String::new());
        };
        let base = scheme
            .split_once('+')
            .map_or(scheme, |(base, _driver)| base);
        if !matches!(base, "postgres" | "postgresql") || rest.is_empty() {
            self.problem(format!(
                "{name}: must be a postgres:// URL, e.g. postgres://user:password@host:5432/db"
            ));
            return SecretString::from(String::new());
        }
        SecretString::from(format!("{base}://{rest}"))
    }

    fn bounded(
        &mut self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> usize {
        let v = self.parsed(name, default);
        if range.contains(&v) {
            v
        } else {
            self.problem(format!(
                "{name}: must be between {} and {}",
                range.start(),
                range.end()
            ));
            default
        }
    }

    /// A rate limit: at least one request, and few enough that the GCRA's
    /// interval stays a whole number of microseconds.
    fn rate_limit(&mut self, name: &str, default: usize) -> u32 {
        self.bounded(name, default, 1..=1_000_000) as u32
    }

    /// A timeout in milliseconds; zero would mean "fail every call", so it is refused.
    fn millis(&mut self, name: &str, default: u64) -> Duration {
        let ms = self.parsed(name, default);
        if ms == 0 {
            self.problem(format!("{name}: must be at least 1"));
            return Duration::from_millis(default);
        }
        Duration::from_millis(ms)
    }

    fn path(&mut self, name: &str, default: &str) -> String {
        let v = self.optional(name).unwrap_or_else(|| default.into());
        if !v.starts_with('/') {
            self.problem(format!("{name}: must start with `/`"));
        }
        v
    }

    fn url_ok(value: &str, schemes: &[&str]) -> bool {
        value
            .split_once("://")
            .is_some_and(|(scheme, rest)| schemes.contains(&scheme) && !rest.is_empty())
    }

    /// URLs may embed passwords, so they are held as secrets and never echoed.
    fn required_url(&mut self, name: &str, schemes: &[&str]) -> SecretString {
        match self.optional(name) {
            None => {
                self.problem(format!("{name}: missing"));
                SecretString::from(String::new())
            }
            Some(v) if !Self::url_ok(&v, schemes) => {
                self.problem(format!("{name}: must be a {} URL", schemes.join("/")));
                SecretString::from(String::new())
            }
            Some(v) => SecretString::from(v),
        }
    }

    fn optional_url(&mut self, name: &str, schemes: &[&str]) -> Option<String> {
        let v = self.optional(name)?;
        if Self::url_ok(&v, schemes) {
            Some(v)
        } else {
            self.problem(format!("{name}: must be a {} URL", schemes.join("/")));
            None
        }
    }

    fn required_secret(&mut self, name: &str, min_bytes: usize) -> SecretString {
        match self.optional_secret(name, min_bytes) {
            Some(s) => s,
            None => {
                if !self.has(name) {
                    self.problem(format!("{name}: missing"));
                }
                SecretString::from(String::new())
            }
        }
    }

    fn optional_secret(&mut self, name: &str, min_bytes: usize) -> Option<SecretString> {
        let v = self.optional(name)?;
        if v.len() < min_bytes {
            self.problem(format!("{name}: must be at least {min_bytes} bytes"));
            return None;
        }
        Some(SecretString::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("TMS_API_URL", "http://127.0.0.1:8100/"),
            ("TMS_API_KEY", "k"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("INTERNAL_API_SECRET", "fedcba9876543210fedcba9876543210"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn defaults_apply() {
        let c = Config::from_map(&base()).unwrap();
        assert_eq!(c.listen_addr.port(), 8000);
        assert_eq!(c.tms.base_url, "http://127.0.0.1:8100");
        assert_eq!(c.jwt.user_claim, "sub");
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.fanout.lanes, 32);
        assert_eq!(c.fanout.max_batch, 250);
        assert_eq!(c.presence_grace, Duration::from_millis(5000));
        assert_eq!(c.redis_connect_timeout, Duration::from_millis(250));
        assert_eq!(c.redis_response_timeout, Duration::from_millis(1000));
        assert_eq!(c.database_acquire_timeout, Duration::from_millis(2000));
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.calls.ring_timeout, Duration::from_secs(45));
        assert_eq!(c.calls.sweep_interval, Duration::from_millis(1000));
        assert_eq!(
            c.rate_limits,
            RateLimitSettings {
                api_per_minute: 100,
                socket_sends_per_second: 10,
                upload_urls_per_minute: 5,
            }
        );
        assert!(c.metrics_token.is_none());
    }

    #[test]
    fn call_settings_are_bounded() {
        let mut vars = base();
        vars.insert("CALL_RING_TIMEOUT_SECS".into(), "0".into());
        vars.insert("CALL_SWEEP_INTERVAL_MS".into(), "5".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("CALL_RING_TIMEOUT_SECS: must be between 1 and 600"),
            "{err}"
        );
        assert!(err.contains("CALL_SWEEP_INTERVAL_MS"), "{err}");
    }

    #[test]
    fn rate_limits_and_the_metrics_token_are_checked() {
        let mut vars = base();
        vars.insert("RATE_LIMIT_API_PER_MINUTE".into(), "0".into());
        vars.insert("RATE_LIMIT_SOCKET_SENDS_PER_SECOND".into(), "many".into());
        vars.insert("METRICS_TOKEN".into(), "short".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("RATE_LIMIT_API_PER_MINUTE: must be between 1 and 1000000"),
            "{err}"
        );
        assert!(err.contains("RATE_LIMIT_SOCKET_SENDS_PER_SECOND"), "{err}");
        assert!(err.contains("METRICS_TOKEN: must be at least 16"), "{err}");
        assert!(!err.contains("short"), "secret echoed: {err}");
        let mut vars = base();
        vars.insert("RATE_LIMIT_UPLOAD_URLS_PER_MINUTE".into(), "20".into());
        vars.insert("METRICS_TOKEN".into(), "scrape-token-0123456789".into());
        let c = Config::from_map(&vars).unwrap();
        assert_eq!(c.rate_limits.upload_urls_per_minute, 20);
        assert!(c.metrics_token.is_some());
    }

    #[test]
    fn fanout_settings_are_bounded() {
        let mut vars = base();
        vars.insert("FANOUT_LANES".into(), "0".into());
        vars.insert("FANOUT_MAX_BATCH".into(), "5000".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("FANOUT_LANES: must be between 1 and 256"),
            "{err}"
        );
        assert!(err.contains("FANOUT_MAX_BATCH"), "{err}");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let mut vars = base();
        vars.insert("REDIS_RESPONSE_TIMEOUT_MS".into(), "0".into());
        vars.insert("DATABASE_ACQUIRE_TIMEOUT_MS".into(), "0".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("REDIS_RESPONSE_TIMEOUT_MS"), "{err}");
        assert!(err.contains("DATABASE_ACQUIRE_TIMEOUT_MS"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut vars = base();
        vars.remove("DATABASE_URL");
        vars.insert("JWT_SECRET".into(), "short".into());
        vars.insert("PORT".into(), "eighty".into());
        let err = Config::from_map(&vars).unwrap_err();
        let text = err.to_string();
        for needle in [
            "DATABASE_URL: missing",
            "JWT_SECRET: must be at least 32",
            "PORT:",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        assert!(
            !text.contains("short"),
            "secret values must not be echoed: {text}"
        );
    }

    #[test]
    fn production_refuses_the_dev_secrets() {
        let mut vars = base();
        for (name, value) in DEV_SECRETS {
            vars.insert(name.into(), value.into());
        }
        // the rest of the OSS stand-in's settings (all or none)
        for (name, value) in [
            ("OSS_ACCESS_KEY_ID", "dev-oss-key"),
            ("OSS_BUCKET_NAME", "teamchat-dev"),
            ("OSS_ENDPOINT", "http://127.0.0.1:9100"),
            ("OSS_REGION", "dev-local"),
        ] {
            vars.insert(name.into(), value.into());
        }
        assert!(Config::from_map(&vars).is_ok(), "development accepts them");
        vars.insert("ENVIRONMENT".into(), "production".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        for (name, value) in DEV_SECRETS {
            assert!(
                err.contains(&format!("{name}: the development default")),
                "{err}"
            );
            assert!(!err.contains(value), "secret echoed: {err}");
        }
    }

    #[test]
    fn needs_a_jwt_key_source() {
        let mut vars = base();
        vars.remove("JWT_SECRET");
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET or TMS_JWKS_URL"), "{err}");
        vars.insert(
            "TMS_JWKS_URL".into(),
            "http://127.0.0.1:8100/.well-known/jwks.json".into(),
        );
        assert!(Config::from_map(&vars).is_ok());
    }

    #[test]
    fn the_seeds_sqlalchemy_database_url_is_accepted_without_its_driver() {
        let mut vars = base();
        vars.insert(
            "DATABASE_URL".into(),
            "postgresql+asyncpg://u:p@db:5432/chat".into(),
        );
        let c = Config::from_map(&vars).unwrap();
        assert_eq!(
            c.database_url.expose_secret(),
            "postgresql://u:p@db:5432/chat"
        );
        vars.insert("DATABASE_URL".into(), "mysql+aiomysql://u@db/chat".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("DATABASE_URL: must be a postgres:// URL"),
            "{err}"
        );
    }

    #[test]
    fn debug_is_a_flag_refused_in_production() {
        let mut vars = base();
        vars.insert("DEBUG".into(), "True".into());
        assert!(Config::from_map(&vars).unwrap().debug);
        vars.insert("DEBUG".into(), "maybe".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("DEBUG: `maybe` is not true or false"), "{err}");
        vars.insert("DEBUG".into(), "1".into());
        vars.insert("ENVIRONMENT".into(), "production".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("DEBUG: must not be true"), "{err}");
    }

    #[test]
    fn allowed_origins_are_checked() {
        let mut vars = base();
        vars.insert("ALLOWED_ORIGINS".into(), "https://a.example.com".into());
        let c = Config::from_map(&vars).unwrap();
        assert!(c.allowed_origins.allows("https://a.example.com"));
        vars.insert("ALLOWED_ORIGINS".into(), "a.example.com/app".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("ALLOWED_ORIGINS"), "{err}");
    }
}
