//! Alibaba Cloud OSS signatures in URLs, version 4 (`OSS4-HMAC-SHA256` in the
//! query string: "presigned URLs"), computed the way Alibaba's own SDKs do
//! (reference: the official Go SDK v2, `oss/signer/v4.go`, whose published
//! test vectors `tests/oss_sig.rs` reproduces). Core presigns upload and
//! download URLs with [`presign`]; the OSS stand-in checks them with
//! [`verify`], so both sides run the same canonicalisation.
//!
//! ```text
//! CanonicalRequest = METHOD \n
//!                    uri-encode("/" + bucket + "/" + key), slashes kept \n
//!                    sorted "enc(k)=enc(v)" joined by &, "enc(k)" for an empty value \n
//!                    "name:value\n" per signed header, sorted \n
//!                    additional header names joined by ; \n
//!                    UNSIGNED-PAYLOAD
//! StringToSign     = OSS4-HMAC-SHA256 \n yyyymmddThhmmssZ \n yyyymmdd/region/oss/aliyun_v4_request \n
//!                    hex(sha256(CanonicalRequest))
//! SigningKey       = HMAC chain of "aliyun_v4" + secret over date, region, "oss", "aliyun_v4_request"
//! x-oss-signature  = hex(HMAC-SHA256(SigningKey, StringToSign))
//! ```
//!
//! Signed headers are `content-type`, `content-md5` and `x-oss-*` when the
//! request carries them, plus the names listed in `x-oss-additional-headers`.
//! Pure: callers pass the time (unix seconds).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// Longest validity OSS accepts for a V4 URL: 7 days.
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;
/// How far in the future a URL's signing time may be (clock skew) before [`verify`] refuses it.
pub const MAX_FUTURE_SKEW_SECS: i64 = 900;
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const DATETIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const DATE_FORMAT: &str = "%Y%m%d";

/// RFC 3986 unreserved characters stay, everything else is `%XX` (uppercase).
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// As [`QUERY_SET`], keeping `/` (object paths).
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
    /// STS temporary credentials only.
    pub security_token: Option<&'a str>,
}

/// The request a presigned URL authorises.
pub struct Presign<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Region of the bucket, e.g. `cn-hangzhou`.
    pub region: &'a str,
    /// Headers the request will carry with exactly these values: `content-type`,
    /// `content-md5` and `x-oss-*` are always signed, others only when named in
    /// `additional_headers`.
    pub headers: &'a [(&'a str, &'a str)],
    pub additional_headers: &'a [&'a str],
    /// Further query parameters (e.g. `response-content-disposition`), signed too.
    pub query: &'a [(&'a str, &'a str)],
    pub signed_at_unix: i64,
    pub expires_secs: u64,
}

/// A request as a server received it, for [`verify`].
pub struct Received<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// The query string's pairs, percent-decoded, in any order.
    pub query: &'a [(String, String)],
    /// The request's headers, names in any case.
    pub headers: &'a [(String, String)],
}

/// What a valid signature proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub expires_at_unix: i64,
}

/// Why [`verify`] refused a URL (OSS answers all of them 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OssSigError {
    #[error("not a V4 signed URL: a required x-oss-* parameter is missing")]
    Missing,
    #[error("signed URL parameters malformed")]
    Malformed,
    #[error("unknown access key id")]
    UnknownAccessKey,
    #[error("credential scope does not match the bucket's region")]
    WrongScope,
    #[error("request has expired")]
    Expired,
    #[error("signature does not match")]
    SignatureMismatch,
}

/// `key` percent-encoded as it appears in an object's URL path (slashes kept).
pub fn encode_path(key: &str) -> String {
    utf8_percent_encode(key, PATH_SET).to_string()
}

/// The query string (no leading `?`) that authorises `p`: its own parameters,
/// the `x-oss-*` ones and `x-oss-signature`. Append it to the object's URL.
pub fn presign(cred: &Credentials<'_>, p: &Presign<'_>) -> String {
    let signed_at = DateTime::from_timestamp(p.signed_at_unix, 0).unwrap_or_default();
    let datetime = signed_at.format(DATETIME_FORMAT).to_string();
    let date = signed_at.format(DATE_FORMAT).to_string();
    let headers = lowercase_headers(p.headers.iter().map(|(k, v)| (*k, *v)));
    let additional = additional_headers(p.additional_headers.iter().copied(), &headers);

    let credential = format!("{}/{}", cred.access_key_id, scope(&date, p.region));
    let expires = p.expires_secs.to_string();
    let joined = additional.join(";");
    let mut query: Vec<(&str, &str)> = p.query.to_vec();
    query.extend([
        ("x-oss-signature-version", ALGORITHM),
        ("x-oss-date", &datetime),
        ("x-oss-expires", &expires),
        ("x-oss-credential", &credential),
    ]);
    if !additional.is_empty() {
        query.push(("x-oss-additional-headers", &joined));
    }
    if let Some(token) = cred.security_token {
        query.push(("x-oss-security-token", token));
    }

    let canonical = canonical_request(p.method, p.bucket, p.key, &query, &headers, &additional);
    let signature = signature(
        cred.access_key_secret,
        &date,
        p.region,
        &datetime,
        &canonical,
    );
    let mut out: Vec<String> = encoded_pairs(&query)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    out.push(format!("x-oss-signature={signature}"));
    out.join("&")
}

/// Checks a received request against its URL's signature: the scope's region
/// must be `region`, the key id known to `secret_of`, the URL not expired at
/// `now_unix`, and the signature must match (compared in constant time).
pub fn verify(
    r: &Received<'_>,
    region: &str,
    now_unix: i64,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, OssSigError> {
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in r.query {
        // one value per name: a repeated one could be read two ways
        if params.insert(k.as_str(), v.as_str()).is_some() {
            return Err(OssSigError::Malformed);
        }
    }
    let get = |name: &str| params.get(name).copied().ok_or(OssSigError::Missing);
    if get("x-oss-signature-version")? != ALGORITHM {
        return Err(OssSigError::Malformed);
    }
    let datetime = get("x-oss-date")?;
    let signed_at = NaiveDateTime::parse_from_str(datetime, DATETIME_FORMAT)
        .map_err(|_| OssSigError::Malformed)?
        .and_utc();
    let expires: u64 = get("x-oss-expires")?
        .parse()
        .map_err(|_| OssSigError::Malformed)?;
    if expires == 0 || expires > MAX_EXPIRES_SECS {
        return Err(OssSigError::Malformed);
    }
    let date = signed_at.format(DATE_FORMAT).to_string();
    let credential = get("x-oss-credential")?;
    let (access_key_id, cred_scope) = credential.split_once('/').ok_or(OssSigError::Malformed)?;
    if cred_scope != scope(&date, region) {
        return Err(OssSigError::WrongScope);
    }
    let secret = secret_of(access_key_id).ok_or(OssSigError::UnknownAccessKey)?;
    let expires_at_unix = signed_at.timestamp() + expires as i64;
    if now_unix > expires_at_unix || signed_at.timestamp() > now_unix + MAX_FUTURE_SKEW_SECS {
        return Err(OssSigError::Expired);
    }
    let given = hex::decode(get("x-oss-signature")?).map_err(|_| OssSigError::Malformed)?;

    let headers = lowercase_headers(r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let named = params
        .get("x-oss-additional-headers")
        .copied()
        .unwrap_or("");
    let additional = additional_headers(named.split(';').filter(|h| !h.is_empty()), &headers);
    let query: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| **k != "x-oss-signature")
        .map(|(k, v)| (*k, *v))
        .collect();
    let canonical = canonical_request(r.method, r.bucket, r.key, &query, &headers, &additional);
    signing_mac(&secret, &date, region, datetime, &canonical)
        .verify_slice(&given)
        .map_err(|_| OssSigError::SignatureMismatch)?;
    Ok(Verified {
        access_key_id: access_key_id.to_owned(),
        expires_at_unix,
    })
}

fn scope(date: &str, region: &str) -> String {
    format!("{date}/{region}/oss/aliyun_v4_request")
}

/// Headers by lowercase name; repeated names joined with `,`, values trimmed.
fn lowercase_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let entry = out.entry(name.to_ascii_lowercase()).or_default();
        if !entry.is_empty() {
            entry.push(',');
        }
        entry.push_str(value.trim());
    }
    out
}

fn signed_by_default(name: &str) -> bool {
    name.starts_with("x-oss-") || name == "content-type" || name == "content-md5"
}

/// The additional headers as OSS lists them: lowercase, sorted, once each,
/// only those the request carries, never one that is signed anyway.
fn additional_headers<'a>(
    names: impl Iterator<Item = &'a str>,
    headers: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = names
        .map(str::to_ascii_lowercase)
        .filter(|n| !signed_by_default(n) && headers.get(n).is_some_and(|v| !v.is_empty()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Percent-encoded pairs, sorted by encoded name (then value).
fn encoded_pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| {
            let k = utf8_percent_encode(k, QUERY_SET).to_string();
            (k, utf8_percent_encode(v, QUERY_SET).to_string())
        })
        .collect();
    pairs.sort();
    pairs
}

fn canonical_request(
    method: &str,
    bucket: &str,
    key: &str,
    query: &[(&str, &str)],
    headers: &BTreeMap<String, String>,
    additional: &[String],
) -> String {
    let uri = encode_path(&format!("/{bucket}/{key}"));
    let canonical_query: Vec<String> = encoded_pairs(query)
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let mut canonical_headers = String::new();
    for (name, value) in headers {
        if signed_by_default(name) || additional.contains(name) {
            canonical_headers.push_str(&format!("{name}:{value}\n"));
        }
    }
    let payload = headers
        .get("x-oss-content-sha256")
        .map_or(UNSIGNED_PAYLOAD, String::as_str);
    format!(
        "{}\n{uri}\n{}\n{canonical_headers}\n{}\n{payload}",
        method.to_ascii_uppercase(),
        canonical_query.join("&"),
        additional.join(";"),
    )
}

/// The MAC over the string to sign, keyed with the V4 signing key.
fn signing_mac(
    secret: &str,
    date: &str,
    region: &str,
    datetime: &str,
    canonical: &str,
) -> HmacSha256 {
    let mut key = format!("aliyun_v4{secret}").into_bytes();
    for part in [date, region, "oss", "aliyun_v4_request"] {
        key = mac(&key, part.as_bytes()).finalize().into_bytes().to_vec();
    }
    let string_to_sign = format!(
        "{ALGORITHM}\n{datetime}\n{}\n{}",
        scope(date, region),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    mac(&key, string_to_sign.as_bytes())
}

fn signature(secret: &str, date: &str, region: &str, datetime: &str, canonical: &str) -> String {
    hex::encode(
        signing_mac(secret, date, region, datetime, canonical)
            .finalize()
            .into_bytes(),
    )
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}
