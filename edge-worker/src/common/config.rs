//! The Worker's configuration from its bindings (`[vars]` and secrets),
//! read by a plain function over a lookup so every rule is tested natively;
//! `runtime::config` feeds it the Worker's `Env`. A problem is a clear log
//! line and a refusal to serve, never a crash.

use shared_auth::deploy_policy::{self, Deployment, Environment};
use shared_auth::jwt::{JwtConfig, DEFAULT_MAX_LIFETIME_SECS};
use shared_types::origins::AllowedOrigins;

/// Sockets of one user on one gateway, unless configured.
pub const DEFAULT_MAX_SOCKETS_PER_USER: u64 = 10;

pub struct EdgeConfig {
    /// `ENVIRONMENT` (unset: development); outside development the public
    /// dev secrets are refused, in production the unsafe settings too.
    pub environment: Environment,
    pub core_api_url: String,
    pub internal_api_secret: Vec<u8>,
    pub jwt: JwtConfig,
    pub jwks_url: Option<String>,
    pub jwks_min_refresh_ms: u64,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    /// Sockets per gateway object before it refuses new ones.
    pub gateway_max_sockets: usize,
    /// Shards per location the Worker tries before refusing an upgrade.
    pub gateway_max_shards: u32,
    /// Open shards a location's connects are spread over (`GATEWAY_SPREAD_SHARDS`).
    pub gateway_spread_shards: u32,
    /// Bound on every edge → core call (sockets' sends, joins, receipts, REST).
    pub core_timeout_ms: u64,
    /// Bound on every call from one object to another.
    pub object_timeout_ms: u64,
    /// Browser origins allowed besides the edge's own (CORS and socket upgrades).
    pub allowed_origins: AllowedOrigins,
    /// A socket that has not connected a namespace by then is closed.
    pub connect_timeout_ms: u64,
    /// Authenticated sockets one user may hold on one gateway object.
    pub max_sockets_per_user: usize,
    /// How long after its token expired a socket may still send `refresh_token`.
    pub token_refresh_grace_ms: u64,
    /// How long a polling GET is held when there is nothing to send (`POLLING_HOLD_MS`).
    pub polling_hold_ms: u64,
    /// How old the isolate's copy of core's deny list (deleted users) may get.
    pub deny_list_ttl_ms: u64,
    /// Connection-state recovery (`MAX_DISCONNECTION_DURATION_MS`, `RECOVERY_*`).
    pub recovery: crate::gateway::recovery::RecoveryConfig,
}

/// Reads bindings through `lookup` (trimmed, empty counted as unset).
struct Bindings<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Bindings<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let value = (self.lookup)(name)?.trim().to_string();
        (!value.is_empty()).then_some(value)
    }

    fn number(&mut self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                self.problems.push(format!("{name}: not a number"));
                default
            }),
        }
    }
}

impl EdgeConfig {
    pub fn heartbeat(&self) -> crate::protocol::heartbeat::HeartbeatConfig {
        crate::protocol::heartbeat::HeartbeatConfig::new(
            self.ping_interval_ms,
            self.ping_timeout_ms,
        )
        .unwrap_or_default()
    }

    /// The configuration from `lookup` (a binding's value by name), or every
    /// problem in one message.
    pub fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut b = Bindings {
            lookup,
            problems: Vec::new(),
        };
        let environment =
            Environment::parse(b.get("ENVIRONMENT").as_deref()).unwrap_or_else(|why| {
                b.problems.push(why);
                // the strictest rules for a name we do not know
                Environment::Production
            });
        let core_api_url = b.get("CORE_API_URL").unwrap_or_else(|| {
            b.problems.push("CORE_API_URL: missing".into());
            String::new()
        });
        let internal_api_secret = b.get("INTERNAL_API_SECRET").unwrap_or_default();
        if let Err(why) = shared_auth::internal_sig::validate_secret(internal_api_secret.as_bytes())
        {
            b.problems.push(format!("INTERNAL_API_SECRET: {why}"));
        }
        let jwks_url = b.get("TMS_JWKS_URL");
        let hs256_secret = b.get("JWT_SECRET");
        if hs256_secret.is_none() && jwks_url.is_none() {
            b.problems
                .push("JWT_SECRET or TMS_JWKS_URL: at least one must be set".into());
        }
        let jwt = JwtConfig {
            hs256_secret: hs256_secret.clone().map(String::into_bytes),
            issuer: b.get("JWT_ISSUER"),
            audience: b.get("JWT_AUDIENCE"),
            user_claim: b.get("JWT_USER_CLAIM").unwrap_or_else(|| "sub".into()),
            leeway_secs: b.number("JWT_LEEWAY_SECS", 30),
            max_lifetime_secs: b.number("JWT_MAX_LIFETIME_SECS", DEFAULT_MAX_LIFETIME_SECS),
        };
        if let Err(why) = jwt.validate() {
            b.problems.push(format!("JWT: {why}"));
        }
        let allowed_origins = AllowedOrigins::parse(&b.get("ALLOWED_ORIGINS").unwrap_or_default())
            .unwrap_or_else(|why| {
                b.problems.push(format!("ALLOWED_ORIGINS: {why}"));
                AllowedOrigins::default()
            });
        // the one policy of core and edge; the edge serves no /metrics
        b.problems.extend(deploy_policy::problems(&Deployment {
            environment: Some(environment),
            origins_wildcard: allowed_origins.allows_any(),
            metrics_token_set: None,
            jwks_url: jwks_url.as_deref(),
            issuer_set: jwt.issuer.is_some(),
            leeway_secs: jwt.leeway_secs,
            secrets: vec![
                ("JWT_SECRET", hs256_secret.as_deref()),
                ("INTERNAL_API_SECRET", Some(internal_api_secret.as_str())),
            ],
        }));
        let config = Self {
            environment,
            core_api_url: core_api_url.trim_end_matches('/').to_string(),
            internal_api_secret: internal_api_secret.into_bytes(),
            jwt,
            jwks_url,
            jwks_min_refresh_ms: b.number("JWKS_MIN_REFRESH_SECS", 30).saturating_mul(1_000),
            ping_interval_ms: b.number("PING_INTERVAL_MS", 25_000),
            ping_timeout_ms: b.number("PING_TIMEOUT_MS", 20_000),
            gateway_max_sockets: b.number(
                "GATEWAY_MAX_SOCKETS",
                crate::gateway::names::DEFAULT_MAX_SOCKETS as u64,
            ) as usize,
            gateway_max_shards: b
                .number(
                    "GATEWAY_MAX_SHARDS",
                    u64::from(crate::gateway::names::DEFAULT_MAX_SHARDS),
                )
                .min(u64::from(u32::MAX)) as u32,
            gateway_spread_shards: b
                .number(
                    "GATEWAY_SPREAD_SHARDS",
                    u64::from(crate::gateway::names::DEFAULT_SPREAD_SHARDS),
                )
                .min(u64::from(u32::MAX)) as u32,
            core_timeout_ms: b.number("CORE_TIMEOUT_MS", 5_000),
            object_timeout_ms: b.number("OBJECT_TIMEOUT_MS", 5_000),
            allowed_origins,
            connect_timeout_ms: b.number(
                "CONNECT_TIMEOUT_MS",
                crate::gateway::session::DEFAULT_CONNECT_TIMEOUT_MS,
            ),
            max_sockets_per_user: b.number("MAX_SOCKETS_PER_USER", DEFAULT_MAX_SOCKETS_PER_USER)
                as usize,
            token_refresh_grace_ms: b
                .number(
                    "TOKEN_REFRESH_GRACE_SECS",
                    crate::gateway::token_life::DEFAULT_REFRESH_GRACE_MS / 1_000,
                )
                .saturating_mul(1_000),
            deny_list_ttl_ms: b.number("DENY_LIST_TTL_SECS", 10).saturating_mul(1_000),
            polling_hold_ms: b.number("POLLING_HOLD_MS", crate::gateway::polling::DEFAULT_HOLD_MS),
            recovery: {
                use crate::gateway::recovery as r;
                r::RecoveryConfig {
                    window_ms: b.number("MAX_DISCONNECTION_DURATION_MS", r::DEFAULT_WINDOW_MS),
                    buffer_frames: b
                        .number("RECOVERY_BUFFER_FRAMES", r::DEFAULT_BUFFER_FRAMES as u64)
                        as usize,
                    buffer_bytes: b.number("RECOVERY_BUFFER_BYTES", r::DEFAULT_BUFFER_BYTES as u64)
                        as usize,
                    max_parked: b.number("RECOVERY_MAX_PARKED", r::DEFAULT_MAX_PARKED as u64)
                        as usize,
                }
            },
        };
        let mut problems = b.problems;
        if !(1_000..=300_000).contains(&config.deny_list_ttl_ms) {
            problems.push("DENY_LIST_TTL_SECS: must be between 1 and 300".into());
        }
        if !(1_000..=60_000).contains(&config.connect_timeout_ms) {
            problems.push("CONNECT_TIMEOUT_MS: must be between 1000 and 60000".into());
        }
        if !(1_000..=crate::gateway::polling::MAX_HOLD_MS).contains(&config.polling_hold_ms) {
            problems.push(format!(
                "POLLING_HOLD_MS: must be between 1000 and {}",
                crate::gateway::polling::MAX_HOLD_MS
            ));
        }
        let recovery = &config.recovery;
        if recovery.window_ms > 600_000 {
            problems
                .push("MAX_DISCONNECTION_DURATION_MS: must be between 0 (off) and 600000".into());
        }
        if !(1..=100_000).contains(&recovery.buffer_frames) {
            problems.push("RECOVERY_BUFFER_FRAMES: must be between 1 and 100000".into());
        }
        if !(65_536..=67_108_864).contains(&recovery.buffer_bytes) {
            problems.push("RECOVERY_BUFFER_BYTES: must be between 65536 and 67108864".into());
        }
        if !(1..=32_768).contains(&recovery.max_parked) {
            problems.push("RECOVERY_MAX_PARKED: must be between 1 and 32768".into());
        }
        if config.max_sockets_per_user == 0 {
            problems.push("MAX_SOCKETS_PER_USER: must be at least 1".into());
        }
        if config.gateway_max_sockets == 0
            || config.gateway_max_shards == 0
            || config.gateway_spread_shards == 0
        {
            problems.push(
                "GATEWAY_MAX_SOCKETS, GATEWAY_MAX_SHARDS and GATEWAY_SPREAD_SHARDS must be at least 1"
                    .into(),
            );
        }
        if let Err(e) = crate::protocol::heartbeat::HeartbeatConfig::new(
            config.ping_interval_ms,
            config.ping_timeout_ms,
        ) {
            problems.push(format!("PING_INTERVAL_MS/PING_TIMEOUT_MS: {e}"));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(format!(
                "invalid edge configuration: {}",
                problems.join("; ")
            ))
        }
    }
}

#[cfg(test)]
mod tests;
