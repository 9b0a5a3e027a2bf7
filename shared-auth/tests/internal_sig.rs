//! The internal edge ⇄ core HMAC: round trips, tampering, skew, nonces, and a
//! fixed vector computed outside Rust.

use sha2::{Digest, Sha256};
use shared_auth::internal_sig::{
    sign, signed_headers, validate_secret, verify, verify_digest, SigError, MAX_SKEW_SECS,
};
use shared_types::internal::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER};

const SECRET: &[u8] = b"internal-api-secret-for-tests-0123456789";
const NOW: u64 = 1_700_000_000;
const PATH: &str = "/internal/v1/messages?trace=1";
const BODY: &[u8] = br#"{"conversation_id":"c-1","text":"hi"}"#;
/// A fixed nonce (uuid v4 simple form is 32 hex chars) so vectors are reproducible.
const NONCE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A request as the receiver sees it; each test changes one part.
#[derive(Clone)]
struct Received {
    method: &'static str,
    path: &'static str,
    timestamp: String,
    nonce: String,
    user: &'static str,
    body: &'static [u8],
    signature: String,
}

impl Received {
    fn signed_at(timestamp: u64) -> Self {
        Self::signed_with(timestamp, NONCE)
    }

    fn signed_with(timestamp: u64, nonce: &str) -> Self {
        Received {
            method: "POST",
            path: PATH,
            timestamp: timestamp.to_string(),
            nonce: nonce.to_string(),
            user: "user-42",
            body: BODY,
            signature: sign(SECRET, "POST", PATH, timestamp, nonce, "user-42", BODY),
        }
    }

    /// `verify`, after checking that `verify_digest` (the body's hash
    /// computed elsewhere) decides the same for every case.
    fn verify_at(&self, now: u64) -> Result<(), SigError> {
        let whole = verify(
            SECRET,
            self.method,
            self.path,
            &self.timestamp,
            &self.nonce,
            self.user,
            self.body,
            &self.signature,
            now,
            MAX_SKEW_SECS,
        );
        let by_digest = verify_digest(
            SECRET,
            self.method,
            self.path,
            &self.timestamp,
            &self.nonce,
            self.user,
            &hex::encode(Sha256::digest(self.body)),
            &self.signature,
            now,
            MAX_SKEW_SECS,
        );
        assert_eq!(whole, by_digest);
        whole
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
        Received {
            nonce: "0f1e2d3c4b5a69788796a5b4c3d2e1f1".into(),
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
        &original.nonce,
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
        Received {
            nonce: String::new(),
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
    // Nonces: 16..=64 chars of [0-9A-Za-z_-], nothing else. Each is signed as
    // sent, so only its shape can make it Malformed rather than BadSignature.
    let bad_nonces = [
        "a".repeat(15),
        "a".repeat(65),
        format!("{NONCE}\nuser-42"),
        format!("{NONCE} "),
        format!("{NONCE}="),
        "0f1e2d3c+b5a6978/796a5b4c3d2e1f0".to_string(),
        "nonce-with-ümlaut-0123456789".to_string(),
    ];
    for nonce in bad_nonces {
        let request = Received::signed_with(NOW, &nonce);
        assert_eq!(
            request.verify_at(NOW),
            Err(SigError::Malformed),
            "{nonce:?}"
        );
    }
    for nonce in [
        "a".repeat(16),
        "Z".repeat(64),
        "Az09_-Az09_-Az09".to_string(),
    ] {
        let request = Received::signed_with(NOW, &nonce);
        assert_eq!(request.verify_at(NOW), Ok(()), "{nonce:?}");
    }
    // Uppercase hex would be a second spelling of the same signature, dodging a
    // replay store keyed on the header; only lowercase is accepted.
    let upper = Received {
        signature: original.signature.to_uppercase(),
        ..original
    };
    assert_eq!(upper.verify_at(NOW), Err(SigError::Malformed));
}

/// The bug this nonce fixes: two identical legitimate requests in the same
/// second must not share a signature, or the receiver's replay store refuses
/// the second one.
#[test]
fn same_request_twice_with_different_nonces_gets_different_signatures() {
    let first = Received::signed_with(NOW, "1b4e28ba2fa1484cb5b2b0c3a7b0d1e2");
    let second = Received::signed_with(NOW, "9c858901836a4a2b8f2d7e1c0a6b5f43");
    assert_ne!(first.signature, second.signature);
    assert_eq!(first.verify_at(NOW), Ok(()));
    assert_eq!(second.verify_at(NOW), Ok(()));
    // and the same nonce does give the same signature (what a replay looks like)
    assert_eq!(
        Received::signed_with(NOW, &first.nonce).signature,
        first.signature
    );
}

#[test]
fn short_secrets_are_rejected() {
    assert!(validate_secret(&[7u8; 31]).is_err());
    assert!(validate_secret(b"").is_err());
    assert!(validate_secret(&[7u8; 32]).is_ok());
    // A receiver with a blank secret never accepts anything, even a matching signature.
    let signature = sign(b"", "GET", "/x", NOW, NONCE, "", b"");
    let result = verify(
        b"",
        "GET",
        "/x",
        &NOW.to_string(),
        NONCE,
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
    let headers = signed_headers(SECRET, "post", "/internal/v1/fanout", NOW, NONCE, "", b"{}");
    assert_eq!(headers.len(), 4);
    let value = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| *key == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(value(HEADER_TIMESTAMP), NOW.to_string());
    assert_eq!(value(HEADER_NONCE), NONCE);
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
        &value(HEADER_NONCE),
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
/// N=0f1e2d3c4b5a69788796a5b4c3d2e1f0
/// H=$(printf '%s' '{"conversation_id":"c-1","text":"hi"}' | openssl dgst -sha256 | awk '{print $NF}')
/// printf 'POST\n/internal/v1/messages?trace=1\n1700000000\n%s\nuser-42\n%s' "$N" "$H" \
///   | openssl dgst -sha256 -hmac 'internal-api-secret-for-tests-0123456789'
/// E=$(printf '' | openssl dgst -sha256 | awk '{print $NF}')
/// printf 'POST\n/internal/v1/fanout\n1700000000\n%s\n\n%s' "$N" "$E" \
///   | openssl dgst -sha256 -hmac 'internal-api-secret-for-tests-0123456789'
/// ```
#[test]
fn matches_openssl_test_vectors() {
    const USER_REQUEST: &str = "025d08ec8c9460d30c5e5aa7ebf8426fa0b62d559ca5d7bc03cfe2e57983e27c";
    const SYSTEM_CALL: &str = "a38680e63e8c56b896973067bf5aefcce9745a0070c8120227a6061bfed6f81a";
    assert_eq!(
        sign(SECRET, "POST", PATH, NOW, NONCE, "user-42", BODY),
        USER_REQUEST
    );
    assert_eq!(
        sign(SECRET, "POST", "/internal/v1/fanout", NOW, NONCE, "", b""),
        SYSTEM_CALL
    );
}
