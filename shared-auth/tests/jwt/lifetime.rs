//! `max_lifetime_secs`: a token living longer than configured is refused,
//! whatever its `exp` (a token valid until the year 3000 is not a TMS token).

use serde_json::json;
use shared_auth::jwt::{verify, DEFAULT_MAX_LIFETIME_SECS};
use shared_auth::{JwkKeys, JwtConfig, JwtError};
use shared_types::ErrorCode;

use crate::fixtures::*;

fn check(claims: serde_json::Value, config: &JwtConfig) -> Result<String, JwtError> {
    verify(&hs256_token(&claims), config, &JwkKeys::empty(), NOW).map(|v| v.tms_user_id)
}

fn limited(max: u64) -> JwtConfig {
    JwtConfig {
        max_lifetime_secs: max,
        ..hs256_config()
    }
}

#[test]
fn the_default_is_a_day() {
    assert_eq!(
        JwtConfig::default().max_lifetime_secs,
        DEFAULT_MAX_LIFETIME_SECS
    );
    assert_eq!(DEFAULT_MAX_LIFETIME_SECS, 86_400);
    // exp in the year 3000
    let err = check(
        json!({"sub": "u", "exp": 32_503_680_000u64}),
        &hs256_config(),
    )
    .unwrap_err();
    assert_eq!(err, JwtError::TokenLifetimeTooLong);
    assert_eq!(err.code(), ErrorCode::TokenLifetimeTooLong);
    assert_eq!(err.code().as_str(), "TOKEN_LIFETIME_TOO_LONG");
    assert_eq!(err.code().http_status(), 401);
}

#[test]
fn lifetime_is_exp_minus_iat() {
    let config = limited(3600);
    assert!(check(json!({"sub": "u", "iat": NOW, "exp": NOW + 3600}), &config).is_ok());
    assert_eq!(
        check(json!({"sub": "u", "iat": NOW, "exp": NOW + 3601}), &config),
        Err(JwtError::TokenLifetimeTooLong)
    );
    // issued long ago with a long lifetime: refused even though little is left
    assert_eq!(
        check(
            json!({"sub": "u", "iat": NOW - 7000, "exp": NOW + 60}),
            &config
        ),
        Err(JwtError::TokenLifetimeTooLong)
    );
}

#[test]
fn without_iat_or_with_a_future_iat_the_lifetime_runs_from_now() {
    let config = limited(3600);
    assert!(check(json!({"sub": "u", "exp": NOW + 3600}), &config).is_ok());
    assert_eq!(
        check(json!({"sub": "u", "exp": NOW + 3601}), &config),
        Err(JwtError::TokenLifetimeTooLong)
    );
    // a future iat does not shorten the measure
    assert_eq!(
        check(
            json!({"sub": "u", "iat": NOW + 100_000, "exp": NOW + 100_500}),
            &config
        ),
        Err(JwtError::TokenLifetimeTooLong)
    );
    assert_eq!(
        check(
            json!({"sub": "u", "iat": "yesterday", "exp": NOW + 60}),
            &config
        ),
        Err(JwtError::TokenMalformed("iat claim invalid"))
    );
}

#[test]
fn zero_is_refused_at_start() {
    assert!(limited(0).validate().is_err());
    assert!(limited(1).validate().is_ok());
}
