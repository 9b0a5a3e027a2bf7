//! Object URLs of the configured OSS bucket: presigned PUT (upload) and GET
//! (download) URLs, and the reverse, an object's URL to its key. Pure: the
//! signature is `shared_auth::oss_sig` (OSS V4), the time comes from the
//! caller's clock. No call to OSS is ever made here.

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;
use shared_auth::oss_sig::{self, Credentials, Presign};

use crate::config::{OssSettings, UrlStyle};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

impl OssSettings {
    /// The bucket's base URL, ending in `/`.
    pub fn base_url(&self) -> String {
        let (scheme, host) = self
            .endpoint
            .split_once("://")
            .unwrap_or(("https", self.endpoint.as_str()));
        match self.url_style {
            UrlStyle::VirtualHosted => format!("{scheme}://{}.{host}/", self.bucket),
            UrlStyle::Path => format!("{scheme}://{host}/{}/", self.bucket),
        }
    }

    /// A PUT URL for `key` that binds the `Content-Type` header and the body's
    /// length (`Content-Length`, an additional signed header): OSS refuses an
    /// upload of another type or size.
    pub fn upload_url(
        &self,
        key: &str,
        content_type: &str,
        size: i64,
        now: DateTime<Utc>,
    ) -> SignedUrl {
        let length = size.to_string();
        self.sign(
            "PUT",
            key,
            &[("Content-Type", content_type), ("Content-Length", &length)],
            &["content-length"],
            self.upload_ttl.as_secs(),
            now,
        )
    }

    /// A GET URL for `key`.
    pub fn download_url(&self, key: &str, now: DateTime<Utc>) -> SignedUrl {
        self.sign("GET", key, &[], &[], self.download_ttl.as_secs(), now)
    }

    /// The key of an object URL of this bucket (query and fragment ignored);
    /// `None` for any other URL.
    pub fn key_of(&self, url: &str) -> Option<String> {
        let bare = url.split(['?', '#']).next()?;
        let encoded = bare.strip_prefix(&self.base_url())?;
        let key = percent_decode_str(encoded).decode_utf8().ok()?;
        (!key.is_empty()).then(|| key.into_owned())
    }

    fn sign(
        &self,
        method: &str,
        key: &str,
        headers: &[(&str, &str)],
        additional: &[&str],
        ttl_secs: u64,
        now: DateTime<Utc>,
    ) -> SignedUrl {
        let query = oss_sig::presign(
            &Credentials {
                access_key_id: &self.access_key_id,
                access_key_secret: self.access_key_secret.expose_secret(),
                security_token: None,
            },
            &Presign {
                method,
                bucket: &self.bucket,
                key,
                region: &self.region,
                headers,
                additional_headers: additional,
                query: &[],
                signed_at_unix: now.timestamp(),
                expires_secs: ttl_secs,
            },
        );
        SignedUrl {
            url: format!("{}{}?{query}", self.base_url(), oss_sig::encode_path(key)),
            // whole seconds, as signed
            expires_at: DateTime::from_timestamp(now.timestamp() + ttl_secs as i64, 0)
                .unwrap_or(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;
    use secrecy::SecretString;

    use super::*;

    fn settings(style: UrlStyle, endpoint: &str) -> OssSettings {
        OssSettings {
            access_key_id: "id".into(),
            access_key_secret: SecretString::from("secret".to_string()),
            bucket: "files".into(),
            region: "cn-hangzhou".into(),
            endpoint: endpoint.into(),
            url_style: style,
            upload_ttl: Duration::from_secs(300),
            download_ttl: Duration::from_secs(900),
        }
    }

    #[test]
    fn urls_follow_the_style_and_encode_the_key() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let hosted = settings(
            UrlStyle::VirtualHosted,
            "https://oss-cn-hangzhou.aliyuncs.com",
        );
        let put = hosted.upload_url("u/alice/1/a b.png", "image/png", 10, now);
        assert!(
            put.url
                .starts_with("https://files.oss-cn-hangzhou.aliyuncs.com/u/alice/1/a%20b.png?"),
            "{}",
            put.url
        );
        assert!(
            put.url.contains("x-oss-date=20260102T030405Z"),
            "{}",
            put.url
        );
        assert!(put.url.contains("x-oss-expires=300&"), "{}", put.url);
        assert!(
            put.url.contains("x-oss-additional-headers=content-length"),
            "{}",
            put.url
        );
        assert_eq!(put.expires_at, now + chrono::Duration::seconds(300));
        let path = settings(UrlStyle::Path, "http://127.0.0.1:9100");
        let get = path.download_url("u/alice/1/a.png", now);
        assert!(
            get.url
                .starts_with("http://127.0.0.1:9100/files/u/alice/1/a.png?"),
            "{}",
            get.url
        );
        assert!(get.url.contains("x-oss-expires=900&"), "{}", get.url);
    }

    #[test]
    fn key_of_accepts_only_this_bucket() {
        let s = settings(
            UrlStyle::VirtualHosted,
            "https://oss-cn-hangzhou.aliyuncs.com",
        );
        let base = "https://files.oss-cn-hangzhou.aliyuncs.com";
        assert_eq!(
            s.key_of(&format!("{base}/u/a/1/x%20y.png?x-oss-signature=1"))
                .as_deref(),
            Some("u/a/1/x y.png")
        );
        assert_eq!(s.key_of(&format!("{base}/k")).as_deref(), Some("k"));
        for other in [
            format!("{base}/"),
            "https://other.oss-cn-hangzhou.aliyuncs.com/k".to_string(),
            "http://files.oss-cn-hangzhou.aliyuncs.com/k".to_string(),
            "https://files.oss-cn-hangzhou.aliyuncs.com.evil.com/k".to_string(),
            "u/a/1/x.png".to_string(),
        ] {
            assert_eq!(s.key_of(&other), None, "{other}");
        }
    }
}
