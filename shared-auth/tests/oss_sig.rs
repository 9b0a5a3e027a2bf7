//! OSS V4 URL signatures against published vectors, and `verify` against `presign`.
//!
//! Vectors: the official Alibaba Cloud OSS Go SDK v2 (github.com/aliyun/
//! alibabacloud-oss-go-sdk-v2, `oss/signer/signer_test.go`): `TestV4AuthQuery`,
//! `TestV4AuthQueryToken` and `TestV4AuthQueryWithAdditionalHeaders`. Same
//! inputs (credentials `ak`/`sk`, bucket `bucket`, key `1234+-/123/1.txt`,
//! region `cn-hangzhou`, the same headers and query), same expected signature.

use percent_encoding::percent_decode_str;
use shared_auth::oss_sig::{self, Credentials, OssSigError, Presign, Received};

const SDK_HEADERS: [(&str, &str); 5] = [
    ("x-oss-head1", "value"),
    ("abc", "value"),
    ("ZAbc", "value"),
    ("XYZ", "value"),
    ("content-type", "application/octet-stream"),
];
const SDK_QUERY: [(&str, &str); 6] = [
    ("param1", "value1"),
    ("+param1", "value3"),
    ("|param1", "value4"),
    ("+param2", ""),
    ("|param2", ""),
    ("param2", ""),
];

fn sdk_presign(token: Option<&str>, signed_at: i64, additional: &[&str]) -> Vec<(String, String)> {
    let cred = Credentials {
        access_key_id: "ak",
        access_key_secret: "sk",
        security_token: token,
    };
    let query = oss_sig::presign(
        &cred,
        &Presign {
            method: "PUT",
            bucket: "bucket",
            key: "1234+-/123/1.txt",
            region: "cn-hangzhou",
            headers: &SDK_HEADERS,
            additional_headers: additional,
            query: &SDK_QUERY,
            signed_at_unix: signed_at,
            // the SDK test signs at t and asks for expiry at t + 599
            expires_secs: 599,
        },
    );
    decode_query(&query)
}

fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let d = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
            (d(k), d(v))
        })
        .collect()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{name} missing in {query:?}"))
}

#[test]
fn go_sdk_v4_auth_query() {
    let q = sdk_presign(None, 1702781677, &[]);
    assert_eq!(param(&q, "x-oss-signature-version"), "OSS4-HMAC-SHA256");
    assert_eq!(param(&q, "x-oss-date"), "20231217T025437Z");
    assert_eq!(param(&q, "x-oss-expires"), "599");
    assert_eq!(
        param(&q, "x-oss-credential"),
        "ak/20231217/cn-hangzhou/oss/aliyun_v4_request"
    );
    assert_eq!(
        param(&q, "x-oss-signature"),
        "a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe"
    );
    assert!(!q.iter().any(|(k, _)| k == "x-oss-additional-headers"));
}

#[test]
fn go_sdk_v4_auth_query_token() {
    let q = sdk_presign(Some("token"), 1702785388, &[]);
    assert_eq!(param(&q, "x-oss-date"), "20231217T035628Z");
    assert_eq!(param(&q, "x-oss-security-token"), "token");
    assert_eq!(
        param(&q, "x-oss-signature"),
        "3817ac9d206cd6dfc90f1c09c00be45005602e55898f26f5ddb06d7892e1f8b5"
    );
}

#[test]
fn go_sdk_v4_auth_query_with_additional_headers() {
    let expected = "6bd984bfe531afb6db1f7550983a741b103a8c58e5e14f83ea474c2322dfa2b7";
    let q = sdk_presign(None, 1702783809, &["ZAbc", "abc"]);
    assert_eq!(param(&q, "x-oss-date"), "20231217T033009Z");
    assert_eq!(param(&q, "x-oss-additional-headers"), "abc;zabc");
    assert_eq!(param(&q, "x-oss-signature"), expected);
    // headers signed anyway (x-oss-*) or absent (x-oss-no-exist) are left out of the list
    let q = sdk_presign(
        None,
        1702783809,
        &["x-oss-no-exist", "abc", "x-oss-head1", "ZAbc"],
    );
    assert_eq!(param(&q, "x-oss-additional-headers"), "abc;zabc");
    assert_eq!(param(&q, "x-oss-signature"), expected);
}

// ---- verify: the stand-in's side of the same code

const SIGNED_AT: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn upload_url(content_type: &str, length: &str) -> Vec<(String, String)> {
    let cred = Credentials {
        access_key_id: "dev-key",
        access_key_secret: "dev-secret",
        security_token: None,
    };
    decode_query(&oss_sig::presign(
        &cred,
        &Presign {
            method: "PUT",
            bucket: "teamchat",
            key: "u/alice/0f1e/cat photo+1.png",
            region: "cn-hangzhou",
            headers: &[("Content-Type", content_type), ("Content-Length", length)],
            additional_headers: &["content-length"],
            query: &[],
            signed_at_unix: SIGNED_AT,
            expires_secs: 300,
        },
    ))
}

fn check(
    query: &[(String, String)],
    headers: &[(&str, &str)],
    now: i64,
) -> Result<oss_sig::Verified, OssSigError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let received = Received {
        method: "PUT",
        bucket: "teamchat",
        key: "u/alice/0f1e/cat photo+1.png",
        query,
        headers: &headers,
    };
    oss_sig::verify(&received, "cn-hangzhou", now, |id| {
        (id == "dev-key").then(|| "dev-secret".to_string())
    })
}

#[test]
fn verify_accepts_what_presign_signed() {
    let q = upload_url("image/png", "1024");
    assert_eq!(param(&q, "x-oss-additional-headers"), "content-length");
    let ok = check(
        &q,
        &[
            ("content-type", "image/png"),
            ("content-length", "1024"),
            ("user-agent", "x"),
        ],
        SIGNED_AT + 10,
    );
    assert_eq!(
        ok,
        Ok(oss_sig::Verified {
            access_key_id: "dev-key".into(),
            expires_at_unix: SIGNED_AT + 300
        })
    );
}

#[test]
fn verify_refuses_other_content_type_or_length() {
    let q = upload_url("image/png", "1024");
    let now = SIGNED_AT + 10;
    for headers in [
        vec![("content-type", "text/html"), ("content-length", "1024")],
        vec![("content-type", "image/png"), ("content-length", "1025")],
        vec![("content-length", "1024")],
    ] {
        assert_eq!(
            check(&q, &headers, now),
            Err(OssSigError::SignatureMismatch),
            "{headers:?}"
        );
    }
}

#[test]
fn verify_refuses_expired_tampered_and_foreign_urls() {
    let q = upload_url("image/png", "1024");
    let h = [("content-type", "image/png"), ("content-length", "1024")];
    assert!(
        check(&q, &h, SIGNED_AT + 300).is_ok(),
        "valid up to its last second"
    );
    assert_eq!(check(&q, &h, SIGNED_AT + 301), Err(OssSigError::Expired));
    assert_eq!(check(&q, &h, SIGNED_AT - 901), Err(OssSigError::Expired));

    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == name {
                        value.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    assert_eq!(
        check(&with("x-oss-expires", "3000"), &h, SIGNED_AT),
        Err(OssSigError::SignatureMismatch)
    );
    assert_eq!(
        check(&with("x-oss-expires", "604801"), &h, SIGNED_AT),
        Err(OssSigError::Malformed)
    );
    assert_eq!(
        check(
            &with(
                "x-oss-credential",
                "other/20260101/cn-hangzhou/oss/aliyun_v4_request"
            ),
            &h,
            SIGNED_AT
        ),
        Err(OssSigError::UnknownAccessKey)
    );
    assert_eq!(
        check(
            &with(
                "x-oss-credential",
                "dev-key/20260101/us-east-1/oss/aliyun_v4_request"
            ),
            &h,
            SIGNED_AT
        ),
        Err(OssSigError::WrongScope)
    );
    assert_eq!(
        check(&with("x-oss-signature", "zz"), &h, SIGNED_AT),
        Err(OssSigError::Malformed)
    );
    // dropping the bound header's name from the list is a different request
    let unbound: Vec<_> = q
        .iter()
        .filter(|(k, _)| k != "x-oss-additional-headers")
        .cloned()
        .collect();
    assert_eq!(
        check(&unbound, &h, SIGNED_AT),
        Err(OssSigError::SignatureMismatch)
    );
    let missing: Vec<_> = q
        .iter()
        .filter(|(k, _)| k != "x-oss-date")
        .cloned()
        .collect();
    assert_eq!(check(&missing, &h, SIGNED_AT), Err(OssSigError::Missing));
    let mut repeated = q.clone();
    repeated.push(("x-oss-expires".into(), "300".into()));
    assert_eq!(check(&repeated, &h, SIGNED_AT), Err(OssSigError::Malformed));
}

#[test]
fn object_paths_keep_slashes_and_encode_the_rest() {
    assert_eq!(
        oss_sig::encode_path("u/a%2Fb/id/cat photo+1.png"),
        "u/a%252Fb/id/cat%20photo%2B1.png"
    );
}
