//! HS256 and the claim rules (time, iss, aud, user claim), which are the same
//! whatever the algorithm.

use serde_json::json;
use shared_auth::jwt::{verify, MAX_USER_ID_BYTES};
use shared_auth::{JwkKeys, JwtConfig, JwtError};
use shared_types::ErrorCode;

use crate::fixtures::*;

fn check(token: &str, config: &JwtConfig) -> Result<shared_auth::VerifiedToken, JwtError> {
    verify(token, config, &JwkKeys::empty(), NOW)
}

fn check_claims(claims: serde_json::Value, config: &JwtConfig) -> Result<String, JwtError> {
    check(&hs256_token(&claims), config).map(|verified| verified.tms_user_id)
}

#[test]
fn hs256_valid_token_yields_user_claims_and_expiry() {
    let verified = check(&hs256_token(&valid_claims()), &hs256_config()).unwrap();
    assert_eq!(verified.tms_user_id, "user-42");
    assert_eq!(verified.expires_at, NOW + 600);
    assert_eq!(verified.claims["name"], "Ada");
}

#[test]
fn empty_token_is_missing() {
    for token in ["", "   "] {
        let err = check(token, &hs256_config()).unwrap_err();
        assert_eq!(err, JwtError::TokenMissing);
        assert_eq!(err.code(), ErrorCode::TokenMissing);
    }
}

#[test]
fn garbage_is_malformed() {
    let valid = hs256_token(&valid_claims());
    let five_segments = format!("{valid}.a.b");
    let huge = "a".repeat(9000);
    for token in [
        "abc",
        "a.b",
        "!!!.b.c",
        five_segments.as_str(),
        huge.as_str(),
    ] {
        let err = check(token, &hs256_config()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenMalformed, "{token:.40}");
    }
}

#[test]
fn wrong_secret_is_signature_invalid() {
    let token = hs256_token_with_secret(&valid_claims(), b"another-secret-of-at-least-32-bytes!!");
    let err = check(&token, &hs256_config()).unwrap_err();
    assert_eq!(err, JwtError::TokenSignatureInvalid);
    assert_eq!(err.code(), ErrorCode::TokenSignatureInvalid);
}

#[test]
fn tampered_payload_is_signature_invalid() {
    let token = hs256_token(&valid_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = valid_claims();
    claims["sub"] = json!("admin");
    let forged = format!("{}.{}.{}", parts[0], b64url(claims.to_string()), parts[2]);
    assert_eq!(
        check(&forged, &hs256_config()),
        Err(JwtError::TokenSignatureInvalid)
    );
}

#[test]
fn alg_none_in_any_case_is_not_allowed() {
    let headers = [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"alg":"nOnE"}"#,
    ];
    for header in headers {
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = unsigned_token(header, &valid_claims(), signature);
            for keys in [JwkKeys::empty(), standard_jwks()] {
                let err = verify(&token, &hs256_config(), &keys, NOW).unwrap_err();
                assert_eq!(err, JwtError::TokenAlgorithmNotAllowed, "{header}");
                assert_eq!(err.code(), ErrorCode::TokenAlgorithmNotAllowed);
            }
        }
    }
}

#[test]
fn other_algorithms_are_not_allowed_even_with_a_valid_hmac() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let key = EncodingKey::from_secret(HS256_SECRET);
        let token = encode(&Header::new(alg), &valid_claims(), &key).unwrap();
        assert_eq!(
            check(&token, &hs256_config()),
            Err(JwtError::TokenAlgorithmNotAllowed)
        );
    }
    // JOSE names are case-sensitive: "hs256" is not HS256.
    let token = unsigned_token(r#"{"alg":"hs256"}"#, &valid_claims(), "AAAA");
    assert_eq!(
        check(&token, &hs256_config()),
        Err(JwtError::TokenAlgorithmNotAllowed)
    );
}

#[test]
fn hs256_is_refused_when_only_jwks_is_configured() {
    let token = hs256_token(&valid_claims());
    let err = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenAlgorithmNotAllowed);
}

#[test]
fn a_short_hs256_secret_is_never_used() {
    let short = b"short-secret".to_vec();
    let config = JwtConfig {
        hs256_secret: Some(short.clone()),
        ..JwtConfig::default()
    };
    assert!(config.validate().is_err());
    assert!(hs256_config().validate().is_ok());
    let token = hs256_token_with_secret(&valid_claims(), &short);
    assert_eq!(
        check(&token, &config),
        Err(JwtError::TokenAlgorithmNotAllowed)
    );
}

#[test]
fn expiry_honours_leeway_against_the_injected_clock() {
    let config = hs256_config();
    assert_eq!(config.leeway_secs, 30);
    let with_exp = |exp: u64| json!({ "sub": "u", "exp": exp });
    assert!(
        check_claims(with_exp(NOW - 30), &config).is_ok(),
        "within leeway"
    );
    assert!(check_claims(with_exp(NOW), &config).is_ok());
    let err = check_claims(with_exp(NOW - 31), &config).unwrap_err();
    assert_eq!(err, JwtError::TokenExpired);
    assert_eq!(err.code(), ErrorCode::TokenExpired);

    let strict = JwtConfig {
        leeway_secs: 0,
        ..hs256_config()
    };
    assert_eq!(
        check_claims(with_exp(NOW - 1), &strict),
        Err(JwtError::TokenExpired)
    );
}

#[test]
fn the_system_clock_is_never_consulted() {
    // exp in 2001: long expired by the real clock, valid by the injected one.
    let token = hs256_token(&json!({ "sub": "u", "exp": 1_000_000_000u64 }));
    assert!(verify(&token, &hs256_config(), &JwkKeys::empty(), 999_999_000).is_ok());
    // And the other way round: valid today, expired at an injected far future.
    let token = hs256_token(&valid_claims());
    let far_future = NOW + 10 * 365 * 24 * 3600;
    let result = verify(&token, &hs256_config(), &JwkKeys::empty(), far_future);
    assert_eq!(result, Err(JwtError::TokenExpired));
}

#[test]
fn exp_is_required_and_must_be_a_number() {
    let err = check_claims(json!({ "sub": "u" }), &hs256_config()).unwrap_err();
    assert_eq!(err, JwtError::TokenMalformed("exp claim missing"));
    assert_eq!(err.message(), "exp claim missing");
    let err = check_claims(json!({ "sub": "u", "exp": "tomorrow" }), &hs256_config()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenMalformed);
    // Fractional NumericDate is legal (RFC 7519).
    let fractional = json!({ "sub": "u", "exp": (NOW + 60) as f64 + 0.5 });
    assert!(check_claims(fractional, &hs256_config()).is_ok());
}

#[test]
fn nbf_in_the_future_beyond_leeway_is_not_yet_valid() {
    let with_nbf = |nbf: u64| json!({ "sub": "u", "exp": NOW + 600, "nbf": nbf });
    assert!(
        check_claims(with_nbf(NOW + 30), &hs256_config()).is_ok(),
        "within leeway"
    );
    let err = check_claims(with_nbf(NOW + 31), &hs256_config()).unwrap_err();
    assert_eq!(err, JwtError::TokenNotYetValid);
    assert_eq!(err.code(), ErrorCode::TokenNotYetValid);
}

#[test]
fn issuer_is_checked_only_when_configured() {
    let config = JwtConfig {
        issuer: Some("https://tms.example".into()),
        ..hs256_config()
    };
    let with_iss = |iss: serde_json::Value| json!({ "sub": "u", "exp": NOW + 60, "iss": iss });
    assert!(check_claims(with_iss(json!("https://tms.example")), &config).is_ok());
    for wrong in [
        json!("https://evil.example"),
        json!(["https://tms.example"]),
        json!(null),
    ] {
        let err = check_claims(with_iss(wrong), &config).unwrap_err();
        assert_eq!(err, JwtError::TokenIssuerInvalid);
        assert_eq!(err.code(), ErrorCode::TokenIssuerInvalid);
    }
    let missing = json!({ "sub": "u", "exp": NOW + 60 });
    assert_eq!(
        check_claims(missing, &config),
        Err(JwtError::TokenIssuerInvalid)
    );
    assert!(check_claims(with_iss(json!("anyone")), &hs256_config()).is_ok());
}

#[test]
fn audience_may_be_a_string_or_an_array() {
    let config = JwtConfig {
        audience: Some("messaging".into()),
        ..hs256_config()
    };
    let with_aud = |aud: serde_json::Value| json!({ "sub": "u", "exp": NOW + 60, "aud": aud });
    assert!(check_claims(with_aud(json!("messaging")), &config).is_ok());
    assert!(check_claims(with_aud(json!(["billing", "messaging"])), &config).is_ok());

    let wrong = [
        json!("billing"),
        json!(["billing", "crm"]),
        json!([]),
        json!(7),
    ];
    for aud in wrong {
        let err = check_claims(with_aud(aud.clone()), &config).unwrap_err();
        assert_eq!(err, JwtError::TokenAudienceInvalid, "{aud}");
        assert_eq!(err.code(), ErrorCode::TokenAudienceInvalid);
    }
    let missing = json!({ "sub": "u", "exp": NOW + 60 });
    assert_eq!(
        check_claims(missing, &config),
        Err(JwtError::TokenAudienceInvalid)
    );
    // Not configured: a token's aud is ignored.
    assert!(check_claims(with_aud(json!("billing")), &hs256_config()).is_ok());
}

#[test]
fn missing_null_or_empty_subject_is_rejected() {
    let cases = [
        json!({ "exp": NOW + 60 }),
        json!({ "exp": NOW + 60, "sub": null }),
        json!({ "exp": NOW + 60, "sub": "" }),
        json!({ "exp": NOW + 60, "sub": "   " }),
        json!({ "exp": NOW + 60, "sub": true }),
        json!({ "exp": NOW + 60, "sub": 1.5 }),
        json!({ "exp": NOW + 60, "sub": { "id": 1 } }),
    ];
    for claims in cases {
        let err = check_claims(claims.clone(), &hs256_config()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenSubjectMissing, "{claims}");
    }
}

#[test]
fn numeric_subject_is_stringified() {
    let claims = json!({ "exp": NOW + 60, "sub": 12345 });
    assert_eq!(check_claims(claims, &hs256_config()).unwrap(), "12345");
}

#[test]
fn custom_user_claim_is_read_instead_of_sub() {
    let config = JwtConfig {
        user_claim: "tms_uid".into(),
        ..hs256_config()
    };
    let claims = json!({ "exp": NOW + 60, "sub": "ignored", "tms_uid": "u-7" });
    assert_eq!(check_claims(claims, &config).unwrap(), "u-7");
    let only_sub = json!({ "exp": NOW + 60, "sub": "u-7" });
    let err = check_claims(only_sub, &config).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TokenSubjectMissing);
}

#[test]
fn user_id_must_fit_a_header() {
    let with_sub = |sub: String| json!({ "exp": NOW + 60, "sub": sub });
    let longest = "x".repeat(MAX_USER_ID_BYTES);
    assert_eq!(
        check_claims(with_sub(longest.clone()), &hs256_config()).unwrap(),
        longest
    );
    let too_long = "x".repeat(MAX_USER_ID_BYTES + 1);
    for bad in [
        too_long,
        "a\nb".into(),
        "tab\there".into(),
        " padded".into(),
        "ünïcode".into(),
    ] {
        let err = check_claims(with_sub(bad.clone()), &hs256_config()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenSubjectMissing, "{bad:?}");
    }
}

#[test]
fn error_messages_never_echo_the_token_or_secret() {
    let secret = String::from_utf8(HS256_SECRET.to_vec()).unwrap();
    let token = hs256_token(&json!({ "sub": "", "exp": NOW + 60 }));
    let errors = [
        check(&token, &hs256_config()).unwrap_err(),
        check(&format!("{token}x"), &hs256_config()).unwrap_err(),
        check("not-a-token", &hs256_config()).unwrap_err(),
    ];
    for err in errors {
        let shown = format!("{err} {err:?}");
        assert!(
            !shown.contains(&token) && !shown.contains(&secret),
            "{shown}"
        );
        assert!(err.message().len() < 80);
    }
    assert!(!format!("{:?}", hs256_config()).contains(&secret));
}
