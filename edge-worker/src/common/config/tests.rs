use std::collections::HashMap;

use super::*;

fn dev() -> HashMap<&'static str, String> {
    [
        ("CORE_API_URL", "http://127.0.0.1:8000"),
        ("JWT_SECRET", "dev-jwt-secret-0123456789abcdef0123456789"),
        (
            "INTERNAL_API_SECRET",
            "dev-internal-secret-0123456789abcdef012345",
        ),
        ("ALLOWED_ORIGINS", "*"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn read(vars: &HashMap<&'static str, String>) -> Result<EdgeConfig, String> {
    EdgeConfig::read(&|name| vars.get(name).cloned())
}

fn safe_production() -> HashMap<&'static str, String> {
    let mut vars = dev();
    for (name, value) in [
        ("ENVIRONMENT", "production"),
        ("JWT_SECRET", "a-real-jwt-secret-0123456789abcdef012345"),
        (
            "INTERNAL_API_SECRET",
            "a-real-internal-secret-0123456789abcdef0",
        ),
        ("JWT_ISSUER", "https://tms.example.com"),
        ("ALLOWED_ORIGINS", "https://chat.example.com"),
        (
            "TMS_JWKS_URL",
            "https://tms.example.com/.well-known/jwks.json",
        ),
    ] {
        vars.insert(name, value.to_string());
    }
    vars
}

#[test]
fn development_takes_the_dev_values() {
    let config = read(&dev()).unwrap();
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.jwt.max_lifetime_secs, 86_400);
}

#[test]
fn the_dev_secrets_are_refused_outside_development() {
    for environment in ["staging", "production"] {
        let mut vars = dev();
        vars.insert("ENVIRONMENT", environment.into());
        let err = read(&vars).err().unwrap();
        assert!(
            err.contains("JWT_SECRET: the development default is refused"),
            "{err}"
        );
        assert!(
            err.contains("INTERNAL_API_SECRET: the development default is refused"),
            "{err}"
        );
        assert!(!err.contains("dev-jwt-secret"), "secret echoed: {err}");
    }
}

#[test]
fn production_refuses_unsafe_settings_like_core() {
    assert!(read(&safe_production()).is_ok());
    for (name, value, expected) in [
        ("JWT_ISSUER", "", "JWT_ISSUER: required"),
        ("ALLOWED_ORIGINS", "*", "ALLOWED_ORIGINS: `*` is refused"),
        (
            "TMS_JWKS_URL",
            "http://tms.example.com/jwks",
            "TMS_JWKS_URL: must be https",
        ),
        ("JWT_LEEWAY_SECS", "120", "JWT_LEEWAY_SECS: at most 60"),
        ("ENVIRONMENT", "prod", "ENVIRONMENT: `prod`"),
    ] {
        let mut vars = safe_production();
        vars.insert(name, value.into());
        let err = read(&vars).err().unwrap();
        assert!(err.contains(expected), "{name}={value}: {err}");
    }
}

#[test]
fn jwt_max_lifetime_is_read() {
    let mut vars = dev();
    vars.insert("JWT_MAX_LIFETIME_SECS", "600".into());
    assert_eq!(read(&vars).unwrap().jwt.max_lifetime_secs, 600);
    vars.insert("JWT_MAX_LIFETIME_SECS", "0".into());
    assert!(read(&vars).err().unwrap().contains("JWT_MAX_LIFETIME_SECS"));
}

#[test]
fn connection_limits_have_defaults_and_bounds() {
    let config = read(&dev()).unwrap();
    assert_eq!(config.connect_timeout_ms, 10_000);
    assert_eq!(config.max_sockets_per_user, 10);
    assert_eq!(config.token_refresh_grace_ms, 60_000);
    assert_eq!(config.deny_list_ttl_ms, 10_000);
    let mut vars = dev();
    vars.insert("CONNECT_TIMEOUT_MS", "500".into());
    vars.insert("MAX_SOCKETS_PER_USER", "0".into());
    let err = read(&vars).err().unwrap();
    assert!(err.contains("CONNECT_TIMEOUT_MS"), "{err}");
    assert!(err.contains("MAX_SOCKETS_PER_USER"), "{err}");
}

#[test]
fn the_polling_hold_has_a_default_and_bounds() {
    assert_eq!(read(&dev()).unwrap().polling_hold_ms, 20_000);
    let mut vars = dev();
    vars.insert("POLLING_HOLD_MS", "60000".into());
    assert_eq!(read(&vars).unwrap().polling_hold_ms, 60_000);
    for bad in ["999", "60001", "soon"] {
        vars.insert("POLLING_HOLD_MS", bad.into());
        let err = read(&vars).err().unwrap();
        assert!(err.contains("POLLING_HOLD_MS"), "{bad}: {err}");
    }
}

#[test]
fn recovery_settings_have_defaults_and_bounds() {
    let config = read(&dev()).unwrap();
    assert_eq!(
        config.recovery,
        crate::gateway::recovery::RecoveryConfig::default()
    );
    assert_eq!(config.recovery.window_ms, 120_000);
    let mut vars = dev();
    vars.insert("MAX_DISCONNECTION_DURATION_MS", "0".into());
    assert!(
        !read(&vars).unwrap().recovery.enabled(),
        "0 disables recovery"
    );
    for (name, bad) in [
        ("MAX_DISCONNECTION_DURATION_MS", "600001"),
        ("RECOVERY_BUFFER_FRAMES", "0"),
        ("RECOVERY_BUFFER_BYTES", "1000"),
        ("RECOVERY_MAX_PARKED", "0"),
        ("RECOVERY_MAX_PARKED", "many"),
    ] {
        let mut vars = dev();
        vars.insert(name, bad.into());
        let err = read(&vars).err().unwrap();
        assert!(err.contains(name), "{name}={bad}: {err}");
    }
}
