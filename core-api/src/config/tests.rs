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
    assert_eq!(c.max_group_members, 100_000);
    assert_eq!(c.presence_push_max_members, 100);
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
            socket_joins_per_second: 20,
            socket_receipts_per_second: 50,
            socket_call_events_per_second: 50,
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
fn redis_url_takes_a_server_or_a_cluster_and_the_prefix_no_braces() {
    for url in [
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:7101,redis://127.0.0.1:7102",
        "redis+cluster://127.0.0.1:7101",
    ] {
        let mut vars = base();
        vars.insert("REDIS_URL".into(), url.into());
        assert!(Config::from_map(&vars).is_ok(), "{url}");
    }
    let mut vars = base();
    vars.insert("REDIS_URL".into(), "redis://a:1,http://b:2".into());
    vars.insert("REDIS_KEY_PREFIX".into(), "app:{x}:".into());
    let err = Config::from_map(&vars).unwrap_err().to_string();
    assert!(err.contains("REDIS_URL"), "{err}");
    assert!(err.contains("REDIS_KEY_PREFIX"), "{err}");
}

#[test]
fn database_read_url_is_optional_and_checked_like_database_url() {
    assert!(Config::from_map(&base())
        .unwrap()
        .database_read_url
        .is_none());
    let mut vars = base();
    vars.insert(
        "DATABASE_READ_URL".into(),
        "postgresql+asyncpg://u@replica/db".into(),
    );
    let c = Config::from_map(&vars).unwrap();
    assert_eq!(
        c.database_read_url.unwrap().expose_secret(),
        "postgresql://u@replica/db"
    );
    vars.insert("DATABASE_READ_URL".into(), "mysql://u@replica/db".into());
    let err = Config::from_map(&vars).unwrap_err().to_string();
    assert!(err.contains("DATABASE_READ_URL"), "{err}");
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

/// A production environment that passes the deployment policy.
fn safe_production() -> HashMap<String, String> {
    let mut vars = base();
    for (name, value) in [
        ("ENVIRONMENT", "production"),
        ("JWT_ISSUER", "https://tms.example.com"),
        ("METRICS_TOKEN", "scrape-token-0123456789"),
        ("ALLOWED_ORIGINS", "https://chat.example.com"),
        (
            "TMS_JWKS_URL",
            "https://tms.example.com/.well-known/jwks.json",
        ),
    ] {
        vars.insert(name.into(), value.into());
    }
    vars
}

#[test]
fn production_refuses_unsafe_settings() {
    assert!(Config::from_map(&safe_production()).is_ok());
    for (name, value, expected) in [
        ("JWT_ISSUER", "", "JWT_ISSUER: required"),
        ("METRICS_TOKEN", "", "METRICS_TOKEN: required"),
        ("ALLOWED_ORIGINS", "*", "ALLOWED_ORIGINS: `*` is refused"),
        (
            "TMS_JWKS_URL",
            "http://tms.example.com/.well-known/jwks.json",
            "TMS_JWKS_URL: must be https",
        ),
        ("JWT_LEEWAY_SECS", "61", "JWT_LEEWAY_SECS: at most 60"),
    ] {
        let mut vars = safe_production();
        vars.insert(name.into(), value.into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}={value}: {err}");
    }
}

#[test]
fn staging_refuses_the_dev_secrets_too() {
    let mut vars = base();
    vars.insert("ENVIRONMENT".into(), "staging".into());
    assert!(Config::from_map(&vars).is_ok());
    vars.insert("INTERNAL_API_SECRET".into(), DEV_SECRETS[1].1.into());
    let err = Config::from_map(&vars).unwrap_err().to_string();
    assert!(
        err.contains(
            "INTERNAL_API_SECRET: the development default is refused with ENVIRONMENT=staging"
        ),
        "{err}"
    );
}

#[test]
fn jwt_max_lifetime_has_a_default_and_bounds() {
    assert_eq!(
        Config::from_map(&base()).unwrap().jwt.max_lifetime_secs,
        86_400
    );
    let mut vars = base();
    vars.insert("JWT_MAX_LIFETIME_SECS".into(), "3600".into());
    assert_eq!(Config::from_map(&vars).unwrap().jwt.max_lifetime_secs, 3600);
    vars.insert("JWT_MAX_LIFETIME_SECS".into(), "0".into());
    let err = Config::from_map(&vars).unwrap_err().to_string();
    assert!(
        err.contains("JWT_MAX_LIFETIME_SECS: must be between 1"),
        "{err}"
    );
}

#[test]
fn development_binds_loopback_by_default() {
    let mut vars = base();
    vars.remove("HOST");
    assert!(Config::from_map(&vars)
        .unwrap()
        .listen_addr
        .ip()
        .is_loopback());
    vars.insert("ENVIRONMENT".into(), "staging".into());
    assert!(Config::from_map(&vars)
        .unwrap()
        .listen_addr
        .ip()
        .is_unspecified());
    vars.insert("HOST".into(), "0.0.0.0".into());
    vars.insert("ENVIRONMENT".into(), "development".into());
    assert!(Config::from_map(&vars)
        .unwrap()
        .listen_addr
        .ip()
        .is_unspecified());
}

#[test]
fn server_timeouts_have_defaults_and_bounds() {
    let c = Config::from_map(&base()).unwrap();
    assert_eq!(c.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    let mut vars = base();
    vars.insert("HEADER_READ_TIMEOUT_MS".into(), "0".into());
    vars.insert("REQUEST_TIMEOUT_MS".into(), "soon".into());
    let err = Config::from_map(&vars).unwrap_err().to_string();
    assert!(err.contains("HEADER_READ_TIMEOUT_MS"), "{err}");
    assert!(err.contains("REQUEST_TIMEOUT_MS"), "{err}");
}
