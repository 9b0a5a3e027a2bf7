//! HMAC-SHA256 signing of the internal API (edge → core `/internal/v1/...` and
//! core → edge `/internal/v1/fanout`), the same code on both sides.
//!
//! Canonical string, newline-separated:
//!
//! ```text
//! METHOD            uppercase, e.g. POST
//! PATH_AND_QUERY    exactly as sent, e.g. /internal/v1/messages?x=1
//! TIMESTAMP         unix seconds, decimal, no leading zeros
//! NONCE             random per request, 16..=64 chars of [0-9A-Za-z_-]
//! ACTING_USER       tms_user_id, empty for system calls (fan-out)
//! hex(sha256(body)) lowercase
//! ```
//!
//! The signature is lowercase hex of `HMAC-SHA256(secret, canonical)` and travels
//! with the timestamp, the nonce and the user in the headers of
//! `shared_types::internal`.
//!
//! **The nonce is the caller's job**: this crate stays pure (no randomness), so
//! every signer generates a fresh nonce per request, and per retry (a uuid v4 in
//! simple form, 32 hex chars). Because the nonce is signed, two identical
//! legitimate requests made in the same second still get different signatures.
//!
//! **Replay is the receiver's job**: [`verify`] only bounds the timestamp to
//! `now ± max_skew_secs`. After a successful verify, the receiver must record the
//! signature (e.g. Redis `SET NX EX REPLAY_WINDOW_SECS`) and reject it if it was
//! already there; keying on the signature is enough, since it is unique per
//! request. [`REPLAY_WINDOW_SECS`] is twice [`MAX_SKEW_SECS`] (and a margin) because a
//! timestamp may be that far off in either direction.
//!
//! Receivers answer every failure with the same 401 (`ErrorCode::InternalAuthFailed`,
//! one message; core's `tests/internal_api.rs` checks it); the [`SigError`]
//! variants are for logs only.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shared_types::internal::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER};

type HmacSha256 = Hmac<Sha256>;

/// Largest accepted `|now - timestamp|`, in seconds.
pub const MAX_SKEW_SECS: u64 = 60;
/// How long a receiver must remember a seen signature: the whole acceptance
/// window, `2 × MAX_SKEW_SECS`, plus 2 s because both ends truncate clocks to
/// whole seconds.
pub const REPLAY_WINDOW_SECS: u64 = 2 * MAX_SKEW_SECS + 2;
// a signature is acceptable from ts - skew to ts + skew: remembering it any
// shorter would let a replay through
const _: () = assert!(REPLAY_WINDOW_SECS > 2 * MAX_SKEW_SECS);
/// `INTERNAL_API_SECRET` must be at least this long.
pub const MIN_SECRET_BYTES: usize = 32;
const SIGNATURE_HEX_LEN: usize = 64;
/// Accepted nonce lengths, in bytes (all ASCII).
const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=64;

/// Why an internal request was refused. Log it; never send it to the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("internal signature, timestamp or nonce header missing")]
    Missing,
    #[error("internal signature headers or request line malformed")]
    Malformed,
    #[error("internal request timestamp outside the allowed skew")]
    Stale,
    #[error("internal signature does not match")]
    BadSignature,
    /// The receiver's own secret is too short: a configuration bug, refused
    /// so that a blank secret can never verify anything.
    #[error("internal API secret shorter than 32 bytes")]
    SecretTooShort,
}

/// Startup check for `INTERNAL_API_SECRET`.
pub fn validate_secret(secret: &[u8]) -> Result<(), &'static str> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err("INTERNAL_API_SECRET must be at least 32 bytes");
    }
    Ok(())
}

/// The exact bytes that get signed (exposed for debugging and test vectors).
pub fn canonical_string(
    method: &str,
    path_and_query: &str,
    timestamp_unix: u64,
    nonce: &str,
    acting_user: &str,
    body: &[u8],
) -> String {
    canonical_string_of_digest(
        method,
        path_and_query,
        timestamp_unix,
        nonce,
        acting_user,
        &hex::encode(Sha256::digest(body)),
    )
}

/// `canonical_string` given the body's SHA-256 (lowercase hex) instead of
/// the body, for a caller that hashes bodies natively (the edge hands large
/// bodies to the runtime's WebCrypto instead of hashing them in wasm).
pub fn canonical_string_of_digest(
    method: &str,
    path_and_query: &str,
    timestamp_unix: u64,
    nonce: &str,
    acting_user: &str,
    body_sha256_hex: &str,
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        timestamp_unix,
        nonce,
        acting_user,
        body_sha256_hex,
    )
}

/// Lowercase hex HMAC-SHA256 of the canonical string. Neither the secret nor the
/// nonce is checked here; validate the secret once at startup with
/// [`validate_secret`], and pass a fresh nonce of the shape [`verify`] accepts.
pub fn sign(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp_unix: u64,
    nonce: &str,
    acting_user: &str,
    body: &[u8],
) -> String {
    let canonical = canonical_string(
        method,
        path_and_query,
        timestamp_unix,
        nonce,
        acting_user,
        body,
    );
    hex::encode(mac_over(secret, &canonical).finalize().into_bytes())
}

/// The four headers for a request signed at `now_unix` with `nonce` (fresh per
/// request, e.g. `uuid::Uuid::new_v4().simple().to_string()`):
/// `[(HEADER_TIMESTAMP, ..), (HEADER_NONCE, ..), (HEADER_USER, ..), (HEADER_SIGNATURE, ..)]`.
pub fn signed_headers(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    now_unix: u64,
    nonce: &str,
    acting_user: &str,
    body: &[u8],
) -> [(&'static str, String); 4] {
    let signature = sign(
        secret,
        method,
        path_and_query,
        now_unix,
        nonce,
        acting_user,
        body,
    );
    [
        (HEADER_TIMESTAMP, now_unix.to_string()),
        (HEADER_NONCE, nonce.to_owned()),
        (HEADER_USER, acting_user.to_owned()),
        (HEADER_SIGNATURE, signature),
    ]
}

/// Checks a received request. `timestamp_header`, `nonce_header` and
/// `signature_hex` are the raw header values (empty when absent); `acting_user` is
/// the user header (empty when absent). Only the canonical spellings are accepted
/// (decimal timestamp without leading zeros, lowercase hex, a nonce of 16..=64
/// chars of `[0-9A-Za-z_-]`), so a replay store keyed on the raw signature header
/// cannot be dodged by re-spelling it. Constant-time comparison.
/// Does NOT detect replays: see the module docs.
// The arguments mirror the request's parts one to one; a struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp_header: &str,
    nonce_header: &str,
    acting_user: &str,
    body: &[u8],
    signature_hex: &str,
    now_unix: u64,
    max_skew_secs: u64,
) -> Result<(), SigError> {
    verify_digest(
        secret,
        method,
        path_and_query,
        timestamp_header,
        nonce_header,
        acting_user,
        &hex::encode(Sha256::digest(body)),
        signature_hex,
        now_unix,
        max_skew_secs,
    )
}

/// `verify` given the body's SHA-256 (lowercase hex) instead of the body;
/// the same checks in the same order.
#[allow(clippy::too_many_arguments)]
pub fn verify_digest(
    secret: &[u8],
    method: &str,
    path_and_query: &str,
    timestamp_header: &str,
    nonce_header: &str,
    acting_user: &str,
    body_sha256_hex: &str,
    signature_hex: &str,
    now_unix: u64,
    max_skew_secs: u64,
) -> Result<(), SigError> {
    if validate_secret(secret).is_err() {
        return Err(SigError::SecretTooShort);
    }
    if timestamp_header.is_empty() || nonce_header.is_empty() || signature_hex.is_empty() {
        return Err(SigError::Missing);
    }
    let timestamp = parse_timestamp(timestamp_header).ok_or(SigError::Malformed)?;
    let signature = parse_signature(signature_hex).ok_or(SigError::Malformed)?;
    if !nonce_well_formed(nonce_header) {
        return Err(SigError::Malformed);
    }
    // A newline in any field could shift the canonical string's lines.
    let single_line = |field: &str| !field.bytes().any(|byte| byte.is_ascii_control());
    let method_ok = !method.is_empty() && method.bytes().all(|byte| byte.is_ascii_alphabetic());
    if !method_ok
        || path_and_query.is_empty()
        || !single_line(path_and_query)
        || !single_line(acting_user)
    {
        return Err(SigError::Malformed);
    }
    if now_unix.abs_diff(timestamp) > max_skew_secs {
        return Err(SigError::Stale);
    }

    let canonical = canonical_string_of_digest(
        method,
        path_and_query,
        timestamp,
        nonce_header,
        acting_user,
        body_sha256_hex,
    );
    mac_over(secret, &canonical)
        .verify_slice(&signature)
        .map_err(|_| SigError::BadSignature)
}

fn mac_over(secret: &[u8], canonical: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(canonical.as_bytes());
    mac
}

/// Decimal seconds in canonical form only, so one signature has one header spelling.
fn parse_timestamp(header: &str) -> Option<u64> {
    let canonical_digits = header.bytes().all(|byte| byte.is_ascii_digit())
        && (header == "0" || !header.starts_with('0'));
    if !canonical_digits {
        return None;
    }
    header.parse().ok()
}

/// 16..=64 chars of `[0-9A-Za-z_-]`: long enough to be unguessable, and never a
/// newline or anything else that could shift the canonical string's lines.
fn nonce_well_formed(nonce: &str) -> bool {
    NONCE_LEN.contains(&nonce.len())
        && nonce
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Lowercase hex only: receivers key their replay store on the raw header, so
/// one signature must have exactly one accepted spelling.
fn parse_signature(signature_hex: &str) -> Option<Vec<u8>> {
    let lowercase_hex = signature_hex.len() == SIGNATURE_HEX_LEN
        && signature_hex
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !lowercase_hex {
        return None;
    }
    hex::decode(signature_hex).ok()
}
