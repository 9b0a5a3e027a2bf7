//! The Worker's configuration from its bindings (`[vars]` and secrets),
//! validated on use so a missing secret is a clear log line, not a crash.

use std::cell::RefCell;
use std::rc::Rc;

use shared_auth::jwt::JwtConfig;
use shared_types::origins::AllowedOrigins;
use worker::Env;

pub struct EdgeConfig {
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
}

/// A binding as a string, whether declared as a var or a secret.
fn binding(env: &Env, name: &str) -> Option<String> {
    let value = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()?;
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn number(env: &Env, name: &str, default: u64, problems: &mut Vec<String>) -> u64 {
    match binding(env, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            problems.push(format!("{name}: not a number"));
            default
        }),
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

    /// The configuration, read from the bindings once per isolate (a
    /// deployment's bindings do not change while its isolate lives; reading
    /// them took a few per cent of the CPU under load). A misconfiguration is
    /// read again on every call, so each use logs it.
    pub fn from_env(env: &Env) -> Result<Rc<Self>, String> {
        thread_local! {
            static CACHED: RefCell<Option<Rc<EdgeConfig>>> = const { RefCell::new(None) };
        }
        if let Some(config) = CACHED.with(|c| c.borrow().clone()) {
            return Ok(config);
        }
        let config = Rc::new(Self::read(env)?);
        CACHED.with(|c| *c.borrow_mut() = Some(Rc::clone(&config)));
        Ok(config)
    }

    fn read(env: &Env) -> Result<Self, String> {
        let mut problems = Vec::new();
        let core_api_url = binding(env, "CORE_API_URL").unwrap_or_else(|| {
            problems.push("CORE_API_URL: missing".into());
            String::new()
        });
        let internal_api_secret = binding(env, "INTERNAL_API_SECRET")
            .unwrap_or_default()
            .into_bytes();
        if let Err(why) = shared_auth::internal_sig::validate_secret(&internal_api_secret) {
            problems.push(format!("INTERNAL_API_SECRET: {why}"));
        }
        let jwks_url = binding(env, "TMS_JWKS_URL");
        let hs256_secret = binding(env, "JWT_SECRET").map(String::into_bytes);
        if hs256_secret.is_none() && jwks_url.is_none() {
            problems.push("JWT_SECRET or TMS_JWKS_URL: at least one must be set".into());
        }
        let jwt = JwtConfig {
            hs256_secret,
            issuer: binding(env, "JWT_ISSUER"),
            audience: binding(env, "JWT_AUDIENCE"),
            user_claim: binding(env, "JWT_USER_CLAIM").unwrap_or_else(|| "sub".into()),
            leeway_secs: number(env, "JWT_LEEWAY_SECS", 30, &mut problems),
        };
        if let Err(why) = jwt.validate() {
            problems.push(format!("JWT: {why}"));
        }
        let allowed_origins =
            AllowedOrigins::parse(&binding(env, "ALLOWED_ORIGINS").unwrap_or_default())
                .unwrap_or_else(|why| {
                    problems.push(format!("ALLOWED_ORIGINS: {why}"));
                    AllowedOrigins::default()
                });
        let config = Self {
            core_api_url: core_api_url.trim_end_matches('/').to_string(),
            internal_api_secret,
            jwt,
            jwks_url,
            jwks_min_refresh_ms: number(env, "JWKS_MIN_REFRESH_SECS", 30, &mut problems)
                .saturating_mul(1_000),
            ping_interval_ms: number(env, "PING_INTERVAL_MS", 25_000, &mut problems),
            ping_timeout_ms: number(env, "PING_TIMEOUT_MS", 20_000, &mut problems),
            gateway_max_sockets: number(
                env,
                "GATEWAY_MAX_SOCKETS",
                crate::gateway::names::DEFAULT_MAX_SOCKETS as u64,
                &mut problems,
            ) as usize,
            gateway_max_shards: number(
                env,
                "GATEWAY_MAX_SHARDS",
                u64::from(crate::gateway::names::DEFAULT_MAX_SHARDS),
                &mut problems,
            )
            .min(u64::from(u32::MAX)) as u32,
            gateway_spread_shards: number(
                env,
                "GATEWAY_SPREAD_SHARDS",
                u64::from(crate::gateway::names::DEFAULT_SPREAD_SHARDS),
                &mut problems,
            )
            .min(u64::from(u32::MAX)) as u32,
            core_timeout_ms: number(env, "CORE_TIMEOUT_MS", 5_000, &mut problems),
            object_timeout_ms: number(env, "OBJECT_TIMEOUT_MS", 5_000, &mut problems),
            allowed_origins,
        };
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
