//! The stand-in over HTTP: signed PUT then GET round-trips the bytes; what
//! OSS refuses (other type or length, expired, unsigned, foreign key, wrong
//! bucket, missing object) it refuses too.

use std::time::{SystemTime, UNIX_EPOCH};

use oss_standin::{spawn, Config};
use shared_auth::oss_sig::{self, Credentials, Presign};

const KEY: &str = "u/alice/0b2e/cat photo.png";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A presigned URL as core makes them (path style); PUTs bind type and length.
fn url(
    base: &str,
    config: &Config,
    method: &str,
    key: &str,
    put: Option<(&str, usize)>,
    signed_at: i64,
) -> String {
    let length = put.map(|(_, n)| n.to_string()).unwrap_or_default();
    let headers: Vec<(&str, &str)> = match put {
        Some((content_type, _)) => {
            vec![("content-type", content_type), ("content-length", &length)]
        }
        None => vec![],
    };
    let query = oss_sig::presign(
        &Credentials {
            access_key_id: &config.access_key_id,
            access_key_secret: &config.access_key_secret,
            security_token: None,
        },
        &Presign {
            method,
            bucket: &config.bucket,
            key,
            region: &config.region,
            headers: &headers,
            additional_headers: &["content-length"],
            query: &[],
            signed_at_unix: signed_at,
            expires_secs: 60,
        },
    );
    format!(
        "{base}/{}/{}?{query}",
        config.bucket,
        oss_sig::encode_path(key)
    )
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    let code = body
        .split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or("<none>")
        .to_string();
    (status, code)
}

#[tokio::test]
async fn signed_put_then_get_round_trips_the_bytes() {
    let config = Config::default();
    let running = spawn(config.clone()).await.unwrap();
    let base = running.endpoint();
    let http = reqwest::Client::new();
    let bytes = b"\x89PNG not really".to_vec();

    let put = url(
        &base,
        &config,
        "PUT",
        KEY,
        Some(("image/png", bytes.len())),
        now(),
    );
    let r = http
        .put(&put)
        .header("content-type", "image/png")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let get = url(&base, &config, "GET", KEY, None, now());
    let r = http.get(&get).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);
    running.shutdown().await;
}

#[tokio::test]
async fn what_oss_refuses_is_refused() {
    let config = Config::default();
    let running = spawn(config.clone()).await.unwrap();
    let base = running.endpoint();
    let http = reqwest::Client::new();
    let put = url(&base, &config, "PUT", KEY, Some(("image/png", 4)), now());
    let send = |url: String, content_type: &'static str, body: &'static [u8]| {
        http.put(url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let cases = [
        (
            "another type",
            send(put.clone(), "text/html", b"1234").await.unwrap(),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "another length",
            send(put.clone(), "image/png", b"12345").await.unwrap(),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "expired",
            send(
                url(
                    &base,
                    &config,
                    "PUT",
                    KEY,
                    Some(("image/png", 4)),
                    now() - 120,
                ),
                "image/png",
                b"1234",
            )
            .await
            .unwrap(),
            (403, "AccessDenied"),
        ),
        (
            "unsigned",
            send(
                format!("{base}/{}/{KEY}", config.bucket),
                "image/png",
                b"1234",
            )
            .await
            .unwrap(),
            (403, "AccessDenied"),
        ),
        (
            "signed for another key",
            send(put.replace("cat%20photo", "dog"), "image/png", b"1234")
                .await
                .unwrap(),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "another bucket",
            send(
                put.replacen(&config.bucket, "other-bucket", 1),
                "image/png",
                b"1234",
            )
            .await
            .unwrap(),
            (404, "NoSuchBucket"),
        ),
        (
            "a PUT URL used to GET",
            http.get(put.clone()).send().await.unwrap(),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "nothing stored there",
            http.get(url(&base, &config, "GET", "u/alice/none", None, now()))
                .send()
                .await
                .unwrap(),
            (404, "NoSuchKey"),
        ),
    ];
    for (what, response, expected) in cases {
        let (status, code) = error_code(response).await;
        assert_eq!((status, code.as_str()), expected, "{what}");
    }
    running.shutdown().await;
}
