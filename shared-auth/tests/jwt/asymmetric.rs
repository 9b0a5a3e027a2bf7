//! RS256 / ES256 through a JWKS, key selection by kid, and algorithm confusion.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use shared_auth::jwt::verify;
use shared_auth::{JwkKeys, JwtConfig, JwtError, TokenAlgorithm};
use shared_types::ErrorCode;

use crate::fixtures::*;

#[test]
fn rs256_valid_via_jwks() {
    let token = rs256_token(&valid_claims(), Some("rsa-1"));
    let verified = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap();
    assert_eq!(verified.tms_user_id, "user-42");
    assert_eq!(verified.expires_at, NOW + 600);
}

#[test]
fn es256_valid_via_jwks() {
    let token = es256_token(&valid_claims(), Some("ec-1"));
    let verified = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap();
    assert_eq!(verified.tms_user_id, "user-42");
}

#[test]
fn key_algorithm_is_inferred_when_the_jwk_has_no_alg() {
    let keys = jwks(&[rsa_jwk(Some("r"), None), ec_jwk(Some("e"), None)]);
    assert_eq!(keys.algorithm_of("r"), Some(TokenAlgorithm::Rs256));
    assert_eq!(keys.algorithm_of("e"), Some(TokenAlgorithm::Es256));
    assert!(verify(
        &rs256_token(&valid_claims(), Some("r")),
        &jwks_config(),
        &keys,
        NOW
    )
    .is_ok());
    assert!(verify(
        &es256_token(&valid_claims(), Some("e")),
        &jwks_config(),
        &keys,
        NOW
    )
    .is_ok());
}

#[test]
fn both_hs256_and_jwks_can_be_configured_together() {
    let keys = standard_jwks();
    let config = hs256_config();
    assert!(verify(&hs256_token(&valid_claims()), &config, &keys, NOW).is_ok());
    assert!(verify(
        &rs256_token(&valid_claims(), Some("rsa-1")),
        &config,
        &keys,
        NOW
    )
    .is_ok());
}

#[test]
fn unknown_kid_asks_for_a_jwks_refetch() {
    let token = rs256_token(&valid_claims(), Some("rotated-key"));
    let err = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenUnknownKey);
    assert_eq!(err.code(), ErrorCode::TokenUnknownKey);
    // No keys yet (JWKS not fetched): same answer.
    let err = verify(&token, &jwks_config(), &JwkKeys::empty(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenUnknownKey);
}

#[test]
fn a_header_alg_that_differs_from_the_keys_alg_is_not_allowed() {
    // RS256 header naming the ES256 key, and the reverse.
    let rs_at_ec = rs256_token(&valid_claims(), Some("ec-1"));
    let es_at_rsa = es256_token(&valid_claims(), Some("rsa-1"));
    for token in [rs_at_ec, es_at_rsa] {
        let err = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
        assert_eq!(err, JwtError::TokenAlgorithmNotAllowed);
        assert_eq!(err.code(), ErrorCode::TokenAlgorithmNotAllowed);
    }
}

#[test]
fn without_kid_a_single_key_of_that_alg_is_used() {
    let token = rs256_token(&valid_claims(), None);
    assert!(verify(&token, &jwks_config(), &standard_jwks(), NOW).is_ok());

    let two_rsa = jwks(&[
        rsa_jwk(Some("a"), Some("RS256")),
        rsa_jwk(Some("b"), Some("RS256")),
    ]);
    let err = verify(&token, &jwks_config(), &two_rsa, NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenUnknownKey, "ambiguous without kid");

    let only_ec = jwks(&[ec_jwk(Some("ec-1"), Some("ES256"))]);
    let err = verify(&token, &jwks_config(), &only_ec, NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenUnknownKey);
}

#[test]
fn a_signature_by_another_key_is_invalid() {
    let stranger = new_ec_key();
    let token = es256_token_with(&stranger, &valid_claims(), Some("ec-1"));
    let err = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenSignatureInvalid);

    let token = rs256_token(&valid_claims(), Some("rsa-1"));
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = valid_claims();
    claims["sub"] = json!("admin");
    let forged = format!("{}.{}.{}", parts[0], b64url(claims.to_string()), parts[2]);
    let err = verify(&forged, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenSignatureInvalid);
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    // The classic confusion attack: use the public key PEM as the HMAC secret,
    // hoping the verifier feeds the JWKS key into HMAC.
    let public_pem = rsa_key().public_pkcs1_pem.as_bytes();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let token = encode(
        &header,
        &valid_claims(),
        &EncodingKey::from_secret(public_pem),
    )
    .unwrap();

    let only_jwks = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(only_jwks, JwtError::TokenAlgorithmNotAllowed);

    let with_secret = verify(&token, &hs256_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(with_secret, JwtError::TokenSignatureInvalid);

    // Relabelling the HMAC-signed token as RS256 does not help either: the RSA
    // key then checks it as an RSA signature.
    let mut rs256_header = Header::new(Algorithm::RS256);
    rs256_header.kid = Some("rsa-1".into());
    let header_b64 = b64url(serde_json::to_vec(&rs256_header).unwrap());
    let (_, payload_and_signature) = token.split_once('.').unwrap();
    let relabelled = format!("{header_b64}.{payload_and_signature}");
    let err = verify(&relabelled, &hs256_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenSignatureInvalid);
}

#[test]
fn claim_rules_apply_to_asymmetric_tokens_too() {
    let expired = json!({ "sub": "u", "exp": NOW - 31 });
    let token = es256_token(&expired, Some("ec-1"));
    let err = verify(&token, &jwks_config(), &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenExpired);

    let config = JwtConfig {
        audience: Some("messaging".into()),
        ..jwks_config()
    };
    let token = rs256_token(&valid_claims(), Some("rsa-1"));
    let err = verify(&token, &config, &standard_jwks(), NOW).unwrap_err();
    assert_eq!(err, JwtError::TokenAudienceInvalid);
}

#[test]
fn jwks_keeps_only_usable_signing_keys() {
    let document = json!({ "keys": [
        rsa_jwk(Some("rsa-1"), Some("RS256")),
        // encryption key, other algorithms and curves, symmetric and junk entries
        { "kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_key().n_b64, "e": rsa_key().e_b64 },
        rsa_jwk(Some("pss"), Some("PS256")),
        ec_jwk(Some("ec-as-rs"), Some("RS256")),
        { "kty": "EC", "kid": "p384", "crv": "P-384", "x": "AAAA", "y": "AAAA" },
        { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
        { "kty": "RSA", "kid": "tiny", "n": b64url([0xC3u8; 64]), "e": "AQAB" },
        { "kty": "EC", "kid": "short", "crv": "P-256", "x": "AAAA", "y": "AAAA" },
        { "kid": "junk" },
        "not even an object",
        ec_jwk(Some("ec-1"), None),
    ]});
    let keys = JwkKeys::from_jwks_json(&document.to_string()).unwrap();
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["rsa-1", "ec-1"]);
    assert_eq!(keys.len(), 2);
    assert!(!keys.contains_kid("enc"));

    // A skipped key behaves as unknown, so a PS256-labelled key cannot verify RS256.
    let token = rs256_token(&valid_claims(), Some("pss"));
    assert_eq!(
        verify(&token, &jwks_config(), &keys, NOW),
        Err(JwtError::TokenUnknownKey)
    );
    // Debug output names keys but never prints key material.
    assert!(!format!("{keys:?}").contains(&rsa_key().n_b64[..20]));
}

#[test]
fn unusable_jwks_documents_are_errors() {
    for document in [
        "not json",
        "{}",
        r#"{"keys": "nope"}"#,
        r#"{"keys":[{"kty":"oct","k":"AA"}]}"#,
    ] {
        let err = JwkKeys::from_jwks_json(document).unwrap_err();
        assert!(matches!(err, JwtError::JwksInvalid(_)), "{document}");
        assert_eq!(err.code(), ErrorCode::TmsUnavailable);
    }
    let empty = JwkKeys::from_jwks_json(r#"{"keys":[]}"#).unwrap();
    assert!(empty.is_empty());
}
