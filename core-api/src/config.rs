//! Typed configuration from the environment, validated once at start.
//! Every missing or bad variable is reported together, so an operator fixes
//! them in one pass.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_types::origins::AllowedOrigins;

mod files;
mod reader;

use reader::Reader;

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
    /// Most members a group may have (`MAX_GROUP_MEMBERS`); past it, 422.
    pub max_group_members: usize,
    /// Presence is pushed to co-members of DMs and of groups up to this size.
    pub presence_push_max_members: usize,
    pub allowed_origins: AllowedOrigins,
    /// HMAC secret of `POST /api/v1/webhooks/tms`; unset: the webhook answers 503.
    pub tms_webhook_secret: Option<SecretString>,
    pub calls: CallSettings,
    /// OSS and the upload rules (`config/files.rs`).
    pub files: FilesConfig,
    /// Per-user limits (see `rate_limit`).
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

/// Core → edge push lanes (see `fanout`).
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
        let max_group_members = r.bounded("MAX_GROUP_MEMBERS", 100_000, 2..=1_000_000);
        let presence_push_max_members = r.bounded("PRESENCE_PUSH_MAX_MEMBERS", 100, 0..=10_000);
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
                max_group_members,
                presence_push_max_members,
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

#[cfg(test)]
mod tests;
