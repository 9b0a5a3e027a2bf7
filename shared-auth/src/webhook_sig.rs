//! The TMS webhook signature (`POST /api/v1/webhooks/tms`):
//!
//! ```text
//! X-TMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//! ```
//!
//! Several `v1=` entries may be present (TMS rotating its secret); one match
//! is enough. [`verify`] checks the form, the skew and the MAC in constant
//! time; refusing a replay within the window is the receiver's job, keyed on
//! the matched signature (unique per timestamp and body).
//!
//! The cost of a hostile header is bounded before any secret is needed: at
//! most [`MAX_HEADER_BYTES`] and [`MAX_CANDIDATES`] `v1=` entries, and the
//! body is hashed once whatever the number of candidates.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER: &str = "x-tms-signature";
/// Largest accepted `|now - t|`, in seconds (5 minutes, as DESIGN.md says).
pub const MAX_SKEW_SECS: u64 = 300;
/// How long a receiver remembers a used signature: the whole window a
/// timestamp is accepted in, both directions, plus a margin.
pub const REPLAY_WINDOW_SECS: u64 = 2 * MAX_SKEW_SECS + 2;

/// Longer `X-TMS-Signature` values are refused unread.
pub const MAX_HEADER_BYTES: usize = 1024;
/// More `v1=` entries than this are refused (a rotation needs two).
pub const MAX_CANDIDATES: usize = 4;

/// Why a webhook was refused. For logs; the sender gets one 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSigError {
    #[error("signature header missing or malformed")]
    Malformed,
    #[error("timestamp outside the accepted window")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
    #[error("secret is empty")]
    NoSecret,
}

/// Lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The header value a sender (the TMS stand-in, tests) puts on a request.
pub fn header_value(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; an empty one is refused by `verify`
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks `header` against `body`; returns the matching `v1` signature (the
/// replay key). Unknown entries (`v0=`, future schemes) are ignored.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix: u64,
) -> Result<String, WebhookSigError> {
    if secret.is_empty() {
        return Err(WebhookSigError::NoSecret);
    }
    if header.len() > MAX_HEADER_BYTES {
        return Err(WebhookSigError::Malformed);
    }
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if timestamp.is_none() => {
                let canonical = !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_digit())
                    && !(v.len() > 1 && v.starts_with('0'));
                timestamp = Some(
                    canonical
                        .then(|| v.parse::<u64>().ok())
                        .flatten()
                        .ok_or(WebhookSigError::Malformed)?,
                );
            }
            Some(("t", _)) => return Err(WebhookSigError::Malformed),
            Some(("v1", _)) if candidates.len() == MAX_CANDIDATES => {
                return Err(WebhookSigError::Malformed)
            }
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookSigError::Malformed)?;
    if candidates.is_empty() {
        return Err(WebhookSigError::Malformed);
    }
    if now_unix.abs_diff(timestamp) > MAX_SKEW_SECS {
        return Err(WebhookSigError::Stale);
    }
    // the body is hashed once; each candidate only finalizes a clone
    let body_mac = mac(secret, timestamp, body);
    for candidate in candidates {
        let lowercase_hex = candidate.len() == 64
            && candidate
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let Some(bytes) = lowercase_hex.then(|| hex::decode(candidate).ok()).flatten() else {
            continue;
        };
        if body_mac.clone().verify_slice(&bytes).is_ok() {
            return Ok(candidate.to_string());
        }
    }
    Err(WebhookSigError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"dev-tms-webhook-secret-0123456789abcdef0123";
    const BODY: &[u8] = br#"{"type":"user.updated","data":{"tms_user_id":"alice"}}"#;

    #[test]
    fn matches_openssl() {
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac Jefe
        assert_eq!(
            sign(b"Jefe", 1_700_000_000, b"{}"),
            "d3793e2b4103edfbd98cc19591832f5fad701d413db9fcae0ae7dab8184ed207"
        );
    }

    #[test]
    fn a_fresh_signature_verifies_and_returns_its_replay_key() {
        let header = header_value(SECRET, 1_000, BODY);
        let key = verify(SECRET, &header, BODY, 1_000 + MAX_SKEW_SECS).unwrap();
        assert_eq!(key, sign(SECRET, 1_000, BODY));
    }

    #[test]
    fn refuses_stale_tampered_and_malformed() {
        let header = header_value(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_000 + MAX_SKEW_SECS + 1),
            Err(WebhookSigError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, b"{\"type\":\"user.deleted\"}", 1_000),
            Err(WebhookSigError::Mismatch)
        );
        assert_eq!(
            verify(b"another-secret", &header, BODY, 1_000),
            Err(WebhookSigError::Mismatch)
        );
        for bad in [
            "",
            "t=1000",
            "v1=abc",
            "t=01000,v1=00",
            "t=x,v1=00",
            "t=1,t=2,v1=00",
        ] {
            assert_eq!(
                verify(SECRET, bad, BODY, 1_000),
                Err(WebhookSigError::Malformed),
                "{bad}"
            );
        }
        let upper = header
            .to_uppercase()
            .replace("T=", "t=")
            .replace("V1=", "v1=");
        assert_eq!(
            verify(SECRET, &upper, BODY, 1_000),
            Err(WebhookSigError::Mismatch)
        );
    }

    #[test]
    fn hostile_headers_are_refused_before_any_mac() {
        let good = sign(SECRET, 1_000, BODY);
        let oversized = format!("t=1000,v1={good},{}", "x".repeat(MAX_HEADER_BYTES));
        assert_eq!(
            verify(SECRET, &oversized, BODY, 1_000),
            Err(WebhookSigError::Malformed)
        );
        let five = format!("t=1000{},v1={good}", ",v1=00".repeat(MAX_CANDIDATES));
        assert!(five.len() < MAX_HEADER_BYTES);
        assert_eq!(
            verify(SECRET, &five, BODY, 1_000),
            Err(WebhookSigError::Malformed)
        );
        let four = format!("t=1000{},v1={good}", ",v1=00".repeat(MAX_CANDIDATES - 1));
        assert_eq!(verify(SECRET, &four, BODY, 1_000).unwrap(), good);
    }

    #[test]
    fn any_of_several_v1_entries_may_match() {
        let good = sign(SECRET, 1_000, BODY);
        let header = format!("t=1000,v1={},v0=legacy,v1={good}", "0".repeat(64));
        assert_eq!(verify(SECRET, &header, BODY, 1_000).unwrap(), good);
    }
}
