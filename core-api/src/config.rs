//! Typed configuration from the environment, validated once at start.
//! Every missing or bad variable is reported together, so an operator fixes
//! them in one pass.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_auth::deploy_policy::Deployment;
use shared_types::origins::AllowedOrigins;

mod files;
mod push;
mod reader;

use reader::Reader;

pub use files::{FilesConfig, OssSettings, UploadRule, UrlStyle};
pub use push::PushSettings;

/// The public development secrets and the environments: one policy with the edge.
pub use shared_auth::deploy_policy::{Environment, DEV_SECRETS};

#[derive(Debug, Clone)]
pub struct Config {
    /// `HOST:PORT`; `HOST` defaults to loopback in development, 0.0.0.0 elsewhere.
    pub listen_addr: SocketAddr,
    /// A connection that has not sent a request's headers within it is closed.
    pub header_read_timeout: Duration,
    /// A request that takes longer end to end is answered 503.
    pub request_timeout: Duration,

    /// `production` refuses the `make dev` secrets (see `DEV_SECRETS`).
    pub environment: Environment,
    /// `DEBUG=true`: debug-level logs when `RUST_LOG` is unset (refused in production).
    pub debug: bool,
    pub database_url: SecretString,
    /// A streaming replica for history pages and conversation lists; `None`: the primary.
    pub database_read_url: Option<SecretString>,
    pub database_max_connections: u32,
    /// Longest wait for a pooled connection before answering 503 DATABASE_UNAVAILABLE.
    pub database_acquire_timeout: Duration,
    /// Postgres `statement_timeout` of every connection.
    pub database_statement_timeout: Duration,
    /// Group commit: at most this many sends per statement; 1 turns it off.
    pub send_batch_max: usize,
    /// Tasks that store batches in parallel, each for its share of the
    /// conversations (sends and receipts alike).
    pub send_writers: usize,
    /// Group commit of receipts: at most this many per statement; 1 turns it off.
    pub receipt_batch_max: usize,
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
    /// How long the change feed keeps changes (`SYNC_RETENTION_DAYS`); an
    /// older cursor is answered 410 `SYNC_CURSOR_EXPIRED`.
    pub sync_retention: Duration,
    /// OSS and the upload rules (`config/files.rs`).
    pub files: FilesConfig,
    /// Per-user limits (see `rate_limit`).
    pub rate_limits: RateLimitSettings,
    /// Bearer token `GET /metrics` requires; open when unset.
    pub metrics_token: Option<SecretString>,
    /// How stale this replica's copy of the deny list (deleted TMS users) may get.
    pub deny_list_refresh: Duration,
    /// Push to offline members (`config/push.rs`).
    pub push: PushSettings,
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
    /// Socket `join_conversation`s per second.
    pub socket_joins_per_second: u32,
    /// Socket `message_read` / `message_delivered` per second.
    pub socket_receipts_per_second: u32,
    /// Socket `/calls` events per second.
    pub socket_call_events_per_second: u32,
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
    /// `JWT_MAX_LIFETIME_SECS`: the longest `exp - iat` accepted.
    pub max_lifetime_secs: u64,
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

        let header_read_timeout = Duration::from_millis(r.bounded(
            "HEADER_READ_TIMEOUT_MS",
            10_000,
            100..=300_000,
        ) as u64);
        let request_timeout =
            Duration::from_millis(r.bounded("REQUEST_TIMEOUT_MS", 30_000, 100..=600_000) as u64);
        let environment =
            Environment::parse(r.optional("ENVIRONMENT").as_deref()).unwrap_or_else(|why| {
                r.problem(why);
                Environment::Development
            });
        // development binds loopback: a laptop's core is not for its network
        let default_host = match environment {
            Environment::Development => "127.0.0.1",
            _ => "0.0.0.0",
        };
        let host = r.optional("HOST").unwrap_or_else(|| default_host.into());
        let port: u16 = r.parsed("PORT", 8000);
        let listen_addr = match format!("{host}:{port}").parse() {
            Ok(a) => a,
            Err(_) => {
                r.problem(format!("HOST: `{host}` is not an IP address"));
                SocketAddr::from(([127, 0, 0, 1], port))
            }
        };

        let debug = r.flag("DEBUG");
        if debug && environment == Environment::Production {
            r.problem("DEBUG: must not be true with ENVIRONMENT=production".into());
        }

        let database_url = r.database_url();
        let database_read_url = r.postgres_url("DATABASE_READ_URL");
        let database_max_connections = r.parsed("DATABASE_MAX_CONNECTIONS", 20u32);
        let database_acquire_timeout = r.millis("DATABASE_ACQUIRE_TIMEOUT_MS", 2000);
        let database_statement_timeout = r.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000);
        let send_batch_max = r.parsed("SEND_BATCH_MAX", 64usize).max(1);
        let send_writers = r.parsed("SEND_WRITERS", 2usize).max(1);
        let receipt_batch_max = r.parsed("RECEIPT_BATCH_MAX", 64usize).max(1);
        let redis_url = r.redis_url();
        let redis_key_prefix = r.redis_key_prefix();
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
            max_lifetime_secs: r.bounded(
                "JWT_MAX_LIFETIME_SECS",
                shared_auth::jwt::DEFAULT_MAX_LIFETIME_SECS as usize,
                1..=31_536_000,
            ) as u64,
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
        let sync_retention =
            Duration::from_secs(r.bounded("SYNC_RETENTION_DAYS", 30, 1..=3650) as u64 * 86_400);
        let files = files::read(&mut r);

        let rate_limits = RateLimitSettings {
            api_per_minute: r.rate_limit("RATE_LIMIT_API_PER_MINUTE", 100),
            socket_sends_per_second: r.rate_limit("RATE_LIMIT_SOCKET_SENDS_PER_SECOND", 10),
            upload_urls_per_minute: r.rate_limit("RATE_LIMIT_UPLOAD_URLS_PER_MINUTE", 5),
            socket_joins_per_second: r.rate_limit("RATE_LIMIT_SOCKET_JOINS_PER_SECOND", 20),
            socket_receipts_per_second: r.rate_limit("RATE_LIMIT_SOCKET_RECEIPTS_PER_SECOND", 50),
            socket_call_events_per_second: r
                .rate_limit("RATE_LIMIT_SOCKET_CALL_EVENTS_PER_SECOND", 50),
        };
        let metrics_token = r.optional_secret("METRICS_TOKEN", MIN_METRICS_TOKEN_BYTES);
        let deny_list_refresh =
            Duration::from_millis(r.bounded("DENY_LIST_REFRESH_MS", 2000, 100..=60_000) as u64);
        let push = push::read(&mut r, MIN_SECRET_BYTES);

        // the one policy of core and edge (shared_auth::deploy_policy)
        let secret_values: Vec<(&str, Option<String>)> = DEV_SECRETS
            .iter()
            .map(|(name, _)| (*name, r.optional(name)))
            .collect();
        for problem in shared_auth::deploy_policy::problems(&Deployment {
            environment: Some(environment),
            origins_wildcard: allowed_origins.allows_any(),
            metrics_token_set: Some(metrics_token.is_some()),
            jwks_url: jwt.jwks_url.as_deref(),
            issuer_set: jwt.issuer.is_some(),
            leeway_secs: jwt.leeway_secs,
            secrets: secret_values
                .iter()
                .map(|(name, value)| (*name, value.as_deref()))
                .collect(),
        }) {
            r.problem(problem);
        }

        if r.problems.is_empty() {
            Ok(Config {
                listen_addr,
                header_read_timeout,
                request_timeout,

                environment,
                debug,
                database_url,
                database_read_url,
                database_max_connections,
                database_acquire_timeout,
                database_statement_timeout,
                send_batch_max,
                send_writers,
                receipt_batch_max,
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
                sync_retention,
                allowed_origins,
                tms_webhook_secret,
                files,
                rate_limits,
                metrics_token,
                deny_list_refresh,
                push,
            })
        } else {
            Err(ConfigError(r.problems))
        }
    }
}

#[cfg(test)]
mod tests;
