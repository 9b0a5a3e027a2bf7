//! The internal edge ⇄ core HMAC: round trips, tampering, skew, and a fixed
//! vector computed outside Rust.

use shared_auth::internal_sig::{
    sign, signed_headers, validate_secret, verify, SigError, MAX_SKEW_SECS, REPLAY_WINDOW_SECS,
};
use shared_types::internal::{HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER};
use shared_types::ErrorCode;

const SECRET: &[u8] = b"internal-api-secret-for-tests-0123456789";
const NOW: u64 = 1_700_000_000;
const PATH: &str = "/internal/v1/messages?trace=1";
const BODY: &[u8] = br#"{"conversation_id":"c-1","text":"hi"}"#;

/// A request as the receiver sees it; each test changes one part.
#[derive(Clone)]
struct Received {
    method: &'static str,
    path: &'static str,
    timestamp: String,
    user: &'static str,
    body: &'static [u8],
    signature: String,
}

impl Received {
    fn signed_at(timestamp: u64) -> Self {
        Received {
            method: "POST",
            path: PATH,
            timestamp: timestamp.to_string(),
            user: "user-42",
            body: BODY,
            signature: sign(SECRET, "POST", PATH, timestamp, "user-42", BODY),
        }
    }

    fn verify_at(&self, now: u64) -> Result<(), SigError> {
        verify(
            SECRET,
            self.method,
            self.path,
            &self.timestamp,
            self.user,
            self.body,
            &self.signature,
            now,
            MAX_SKEW_SECS,
        )
    }
}

#[test]
fn round_trip() {
    assert_eq!(Received::signed_at(NOW).verify_at(NOW), Ok(()));
}

#[test]
fn method_case_does_not_matter_but_the_method_does() {
    let lower = Received {
        method: "post",
        ..Received::signed_at(NOW)
    };
    assert_eq!(lower.verify_at(NOW), Ok(()));
    let other = Received {
        method: "PUT",
        ..Received::signed_at(NOW)
    };
    assert_eq!(other.verify_at(NOW), Err(SigError::BadSignature));
}

#[test]
fn each_tampered_part_fails() {
    let original = Received::signed_at(NOW);
    let tampered = [
        Received {
            body: br#"{"conversation_id":"c-1","text":"hI"}"#,
            ..original.clone()
        },
        Received {
            body: b"",
            ..original.clone()
        },
        Received {
            path: "/internal/v1/messages?trace=2",
            ..original.clone()
        },
        Received {
            path: "/internal/v1/messages",
            ..original.clone()
        },
        Received {
            user: "user-43",
            ..original.clone()
        },
        Received {
            user: "",
            ..original.clone()
        },
        Received {
            method: "DELETE",
            ..original.clone()
        },
        Received {
            timestamp: (NOW + 1).to_string(),
            ..original.clone()
        },
    ];
    for request in tampered {
        assert_eq!(
            request.verify_at(NOW),
            Err(SigError::BadSignature),
            "{}",
            request.path
        );
    }
    let wrong_secret = verify(
        b"a-different-secret-of-32-bytes-or-more",
        original.method,
        original.path,
        &original.timestamp,
        original.user,
        original.body,
        &original.signature,
        NOW,
        MAX_SKEW_SECS,
    );
    assert_eq!(wrong_secret, Err(SigError::BadSignature));
}

#[test]
fn stale_timestamps_fail_in_both_directions() {
    let request = Received::signed_at(NOW);
    assert_eq!(request.verify_at(NOW + MAX_SKEW_SECS), Ok(()));
    assert_eq!(request.verify_at(NOW - MAX_SKEW_SECS), Ok(()));
    assert_eq!(
        request.verify_at(NOW + MAX_SKEW_SECS + 1),
        Err(SigError::Stale),
        "too old"
    );
    assert_eq!(
        request.verify_at(NOW - MAX_SKEW_SECS - 1),
        Err(SigError::Stale),
        "from the future"
    );
    assert_eq!(REPLAY_WINDOW_SECS, 2 * MAX_SKEW_SECS);
}

#[test]
fn missing_and_malformed_headers() {
    let original = Received::signed_at(NOW);
    let missing = [
        Received {
            signature: String::new(),
            ..original.clone()
        },
        Received {
            timestamp: String::new(),
            ..original.clone()
        },
    ];
    for request in missing {
        assert_eq!(request.verify_at(NOW), Err(SigError::Missing));
    }
    let garbage_hex = "zz".repeat(32);
    let truncated = original.signature[..62].to_string();
    let malformed = [
        Received {
            signature: garbage_hex,
            ..original.clone()
        },
        Received {
            signature: truncated,
            ..original.clone()
        },
        Received {
            signature: format!("{}00", original.signature),
            ..original.clone()
        },
        Received {
            timestamp: "17e8".into(),
            ..original.clone()
        },
        Received {
            timestamp: "-1700000000".into(),
            ..original.clone()
        },
        Received {
            timestamp: format!("0{NOW}"),
            ..original.clone()
        },
        Received {
            timestamp: format!(" {NOW}"),
            ..original.clone()
        },
        Received {
            user: "user-42\nPOST",
            ..original.clone()
        },
        Received {
            path: "",
            ..original.clone()
        },
        Received {
            method: "PO ST",
            ..original.clone()
        },
    ];
    for request in malformed {
        let result = request.verify_at(NOW);
        assert_eq!(
            result,
            Err(SigError::Malformed),
            "{:?} {:?}",
            request.timestamp,
            request.signature
        );
    }
    // Uppercase hex would be a second spelling of the same signature, dodging a
    // replay store keyed on the header; only lowercase is accepted.
    let upper = Received {
        signature: original.signature.to_uppercase(),
        ..original
    };
    assert_eq!(upper.verify_at(NOW), Err(SigError::Malformed));
}

#[test]
fn every_failure_is_the_same_opaque_code() {
    for err in [
        SigError::Missing,
        SigError::Malformed,
        SigError::Stale,
        SigError::BadSignature,
    ] {
        assert_eq!(err.code(), ErrorCode::InternalAuthFailed);
        assert_eq!(err.code().http_status(), 401);
    }
}

#[test]
fn short_secrets_are_rejected() {
    assert!(validate_secret(&[7u8; 31]).is_err());
    assert!(validate_secret(b"").is_err());
    assert!(validate_secret(&[7u8; 32]).is_ok());
    // A receiver with a blank secret never accepts anything, even a matching signature.
    let signature = sign(b"", "GET", "/x", NOW, "", b"");
    let result = verify(
        b"",
        "GET",
        "/x",
        &NOW.to_string(),
        "",
        b"",
        &signature,
        NOW,
        60,
    );
    assert_eq!(result, Err(SigError::SecretTooShort));
}

#[test]
fn signed_headers_round_trip_through_verify() {
    let headers = signed_headers(SECRET, "post", "/internal/v1/fanout", NOW, "", b"{}");
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| *key == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(value(HEADER_TIMESTAMP), NOW.to_string());
    assert_eq!(value(HEADER_USER), "");
    let signature = value(HEADER_SIGNATURE);
    assert_eq!(signature.len(), 64);
    assert!(signature
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let result = verify(
        SECRET,
        "POST",
        "/internal/v1/fanout",
        &value(HEADER_TIMESTAMP),
        &value(HEADER_USER),
        b"{}",
        &signature,
        NOW + 5,
        MAX_SKEW_SECS,
    );
    assert_eq!(result, Ok(()));
}

/// Expected values computed independently with OpenSSL 3.0 (run once, pasted here):
///
/// ```sh
/// H=$(printf '%s' '{"conversation_id":"c-1","text":"hi"}' | openssl dgst -sha256 | awk '{print $NF}')
/// printf 'POST\n/internal/v1/messages?trace=1\n1700000000\nuser-42\n%s' "$H" \
///   | openssl dgst -sha256 -hmac 'internal-api-secret-for-tests-0123456789'
/// E=$(printf '' | openssl dgst -sha256 | awk '{print $NF}')
/// printf 'POST\n/internal/v1/fanout\n1700000000\n\n%s' "$E" \
///   | openssl dgst -sha256 -hmac 'internal-api-secret-for-tests-0123456789'
/// ```
#[test]
fn matches_openssl_test_vectors() {
    const USER_REQUEST: &str = "97da4ae8eff761012732ea657c6c8f38255680cee7e720e2242fab75eb2567bd";
    const SYSTEM_CALL: &str = "59f31f41de22ef66f230e5006a529929c04db8679a26f65073f4b9c6f208bbef";
    assert_eq!(
        sign(SECRET, "POST", PATH, NOW, "user-42", BODY),
        USER_REQUEST
    );
    assert_eq!(
        sign(SECRET, "POST", "/internal/v1/fanout", NOW, "", b""),
        SYSTEM_CALL
    );
}
