//! Property tests of the parsers that read attacker bytes before any secret
//! is involved: the JWT header and claims, the internal signature headers
//! and the webhook signature header. They never panic, never accept what
//! was not signed, and the webhook's refusal of a hostile header stays
//! cheap. `PROPTEST_CASES` sets the depth (CI: the default 256;
//! `scripts/fuzz-long.sh` runs them for a fixed time with many more).
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};
use shared_auth::jwt::verify;
use shared_auth::{internal_sig, webhook_sig, JwkKeys, JwtConfig};

const NOW: u64 = 1_700_000_000;
const EMPTY_BODY: &[u8] = b"{}";
const SECRET: &[u8] = b"prop-test-secret-0123456789abcdef-0123456789";

fn config() -> JwtConfig {
    JwtConfig {
        hs256_secret: Some(SECRET.to_vec()),
        issuer: Some("https://tms.example".into()),
        audience: Some("teamchat".into()),
        ..JwtConfig::default()
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("RS256")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_string()),
                    Just("kid".to_string()),
                    Just("crit".to_string()),
                    Just("exp".to_string()),
                    Just("iat".to_string()),
                    Just("nbf".to_string()),
                    Just("sub".to_string()),
                    Just("iss".to_string()),
                    Just("aud".to_string()),
                    "[a-z]{1,4}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

proptest! {
    /// Any text as a bearer token: a verdict, never a panic, never an accept.
    #[test]
    fn jwt_any_text_is_refused_cleanly(token in ".{0,200}") {
        prop_assert!(verify(&token, &config(), &JwkKeys::empty(), NOW).is_err());
    }

    /// Token-shaped input with arbitrary JSON header and claims reaches the
    /// header and claim parsers; without the secret's signature nothing passes.
    #[test]
    fn jwt_unsigned_structured_tokens_are_refused(
        header in json_value(),
        claims in json_value(),
        signature in "[A-Za-z0-9_-]{0,90}",
    ) {
        let token = format!("{}.{}.{signature}", b64(&header), b64(&claims));
        prop_assert!(verify(&token, &config(), &JwkKeys::empty(), NOW).is_err());
    }

    /// Correctly signed tokens with arbitrary claims: the claim rules decide,
    /// without panicking, and an accepted token has a sound subject and exp.
    #[test]
    fn jwt_signed_tokens_with_arbitrary_claims_get_a_verdict(claims in json_value(), now in 0u64..4_000_000_000) {
        let input = format!("{}.{}", b64(&json!({"alg": "HS256", "typ": "JWT"})), b64(&claims));
        let token = format!("{input}.{}", hs256(&input));
        if let Ok(verified) = verify(&token, &config(), &JwkKeys::empty(), now) {
            prop_assert!(shared_types::TmsUserId::check(&verified.tms_user_id).is_ok());
            prop_assert!(verified.expires_at.saturating_add(30) >= now);
        }
    }

    /// The webhook header parser: arbitrary headers never panic and never match.
    #[test]
    fn webhook_any_header_is_refused_cleanly(header in ".{0,300}", body in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert!(webhook_sig::verify(SECRET, &header, &body, NOW).is_err());
    }

    /// Header-shaped input: many entries, repeated keys, odd spacing.
    #[test]
    fn webhook_header_shaped_input_is_refused(
        parts in prop::collection::vec(
            prop_oneof![
                "t=[0-9]{0,12}".prop_map(|s| s),
                "v1=[0-9a-f]{0,70}".prop_map(|s| s),
                "v0=[a-z]{0,8}".prop_map(|s| s),
                " ?[a-z0-9]{0,3}=?[ ,=]?".prop_map(|s| s),
            ],
            0..12,
        ),
    ) {
        let header = parts.join(",");
        prop_assert!(webhook_sig::verify(SECRET, &header, EMPTY_BODY, NOW).is_err());
    }

    /// A correct signature still verifies among up to MAX_CANDIDATES - 1 decoys, in any order.
    #[test]
    fn webhook_a_good_signature_among_decoys_verifies(decoys in prop::collection::vec("[0-9a-f]{64}", 0..webhook_sig::MAX_CANDIDATES), at in 0..webhook_sig::MAX_CANDIDATES) {
        let good = webhook_sig::sign(SECRET, NOW, EMPTY_BODY);
        let mut candidates: Vec<String> = decoys.into_iter().take(webhook_sig::MAX_CANDIDATES - 1).collect();
        let at = at.min(candidates.len());
        candidates.insert(at, good.clone());
        let header = format!("t={NOW},{}", candidates.iter().map(|c| format!("v1={c}")).collect::<Vec<_>>().join(","));
        prop_assert_eq!(webhook_sig::verify(SECRET, &header, EMPTY_BODY, NOW), Ok(good));
    }

    /// The internal signature headers: arbitrary values never panic and never verify.
    #[test]
    fn internal_signature_any_headers_are_refused(
        timestamp in ".{0,24}",
        nonce in ".{0,70}",
        user in ".{0,40}",
        signature in ".{0,80}",
        path in "/[ -~]{0,40}",
    ) {
        prop_assert!(internal_sig::verify(SECRET, "POST", &path, &timestamp, &nonce, &user, EMPTY_BODY, &signature, NOW, 60).is_err());
    }
}

fn hs256(input: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}
