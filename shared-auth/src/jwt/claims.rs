//! Claim rules, checked after the signature holds, against the caller's clock.

use serde_json::{Map, Value};

use shared_types::TmsUserId;

use super::{JwtConfig, JwtError, VerifiedToken};

pub(super) fn check(
    claims: Value,
    config: &JwtConfig,
    now_unix: u64,
) -> Result<VerifiedToken, JwtError> {
    let Value::Object(object) = &claims else {
        return Err(JwtError::TokenMalformed(
            "token payload is not a JSON object",
        ));
    };
    let expires_at = check_time(object, config.leeway_secs, now_unix)?;
    check_lifetime(object, expires_at, config.max_lifetime_secs, now_unix)?;
    check_issuer(object, config.issuer.as_deref())?;
    check_audience(object, config.audience.as_deref())?;
    let tms_user_id = user_id(object, &config.user_claim)?;
    Ok(VerifiedToken {
        tms_user_id,
        claims,
        expires_at,
    })
}

/// Returns `exp`. A token without `exp` never expires, so it is refused as malformed.
fn check_time(claims: &Map<String, Value>, leeway: u64, now: u64) -> Result<u64, JwtError> {
    let exp = match claims.get("exp") {
        None | Some(Value::Null) => return Err(JwtError::TokenMalformed("exp claim missing")),
        Some(exp) => numeric_date(exp).ok_or(JwtError::TokenMalformed("exp claim invalid"))?,
    };
    if now > exp.saturating_add(leeway) {
        return Err(JwtError::TokenExpired);
    }
    match claims.get("nbf") {
        None | Some(Value::Null) => {}
        Some(nbf) => {
            let nbf = numeric_date(nbf).ok_or(JwtError::TokenMalformed("nbf claim invalid"))?;
            if nbf > now.saturating_add(leeway) {
                return Err(JwtError::TokenNotYetValid);
            }
        }
    }
    Ok(exp)
}

/// A token that lives longer than `max` is refused, whatever its `exp`: a
/// leaked long-lived token would otherwise work for years. The lifetime runs
/// from `iat`, or from now when `iat` is missing or later than now (a future
/// `iat` must not shorten the measure).
fn check_lifetime(
    claims: &Map<String, Value>,
    exp: u64,
    max: u64,
    now: u64,
) -> Result<(), JwtError> {
    let issued_at = match claims.get("iat") {
        None | Some(Value::Null) => now,
        Some(iat) => numeric_date(iat).ok_or(JwtError::TokenMalformed("iat claim invalid"))?,
    };
    if exp.saturating_sub(issued_at.min(now)) > max {
        return Err(JwtError::TokenLifetimeTooLong);
    }
    Ok(())
}

/// RFC 7519 NumericDate: seconds, possibly fractional; negative or non-numbers are invalid.
fn numeric_date(value: &Value) -> Option<u64> {
    if let Some(seconds) = value.as_u64() {
        return Some(seconds);
    }
    let seconds = value.as_f64()?;
    // `as` saturates at u64::MAX, which is fine for a far-future exp.
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds as u64)
}

fn check_issuer(claims: &Map<String, Value>, expected: Option<&str>) -> Result<(), JwtError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == expected => Ok(()),
        _ => Err(JwtError::TokenIssuerInvalid),
    }
}

/// `aud` may be one string or an array of strings (RFC 7519 §4.1.3).
fn check_audience(claims: &Map<String, Value>, expected: Option<&str>) -> Result<(), JwtError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let matches = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expected,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(expected)),
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(JwtError::TokenAudienceInvalid)
    }
}

/// The `tms_user_id`, by `shared_types::TmsUserId`'s rule. Every violation
/// is `TokenSubjectMissing`.
fn user_id(claims: &Map<String, Value>, user_claim: &str) -> Result<String, JwtError> {
    let id = match claims.get(user_claim) {
        None | Some(Value::Null) => {
            return Err(JwtError::TokenSubjectMissing("user claim missing"))
        }
        Some(Value::String(id)) => id.clone(),
        // Integer ids only: a float has no single canonical spelling.
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => number.to_string(),
        Some(_) => {
            return Err(JwtError::TokenSubjectMissing(
                "user claim must be a string or an integer",
            ))
        }
    };
    // the one rule of a TMS user id
    TmsUserId::check(&id).map_err(|e| JwtError::TokenSubjectMissing(e.message()))?;
    Ok(id)
}
