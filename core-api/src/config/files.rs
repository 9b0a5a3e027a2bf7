//! File settings: the OSS bucket (`OSS_*`) and the rules of each upload kind
//! (`UPLOAD_*`). Without `OSS_*` core runs with uploads off.

use std::time::Duration;

use secrecy::SecretString;
use shared_types::files::{is_media_type, FileKind};

use super::reader::Reader;

/// OSS accepts at most 5 GiB in one PUT.
const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024 * 1024;
const MIB: usize = 1024 * 1024;
/// The four variables that turn uploads on, all or none.
const OSS_REQUIRED: [&str; 4] = [
    "OSS_ACCESS_KEY_ID",
    "OSS_ACCESS_KEY_SECRET",
    "OSS_BUCKET_NAME",
    "OSS_ENDPOINT",
];

#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// `None`: no `OSS_*` set; upload URLs answer 503 `STORAGE_NOT_CONFIGURED`
    /// and attachments go without a `url`.
    pub oss: Option<OssSettings>,
    pub image: UploadRule,
    pub file: UploadRule,
    pub voice: UploadRule,
}

impl FilesConfig {
    pub fn rule(&self, kind: FileKind) -> &UploadRule {
        match kind {
            FileKind::Image => &self.image,
            FileKind::File => &self.file,
            FileKind::Voice => &self.voice,
        }
    }
}

/// How object URLs name the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// `https://{bucket}.{endpoint}/{key}`: what OSS serves.
    VirtualHosted,
    /// `{endpoint}/{bucket}/{key}`: the local OSS stand-in.
    Path,
}

#[derive(Debug, Clone)]
pub struct OssSettings {
    pub access_key_id: String,
    pub access_key_secret: SecretString,
    pub bucket: String,
    /// The V4 signing region, e.g. `cn-hangzhou`.
    pub region: String,
    /// `scheme://host[:port]`, no trailing slash.
    pub endpoint: String,
    pub url_style: UrlStyle,
    /// Validity of a signed PUT URL.
    pub upload_ttl: Duration,
    /// Validity of a signed GET URL in message answers and events.
    pub download_ttl: Duration,
}

/// What one upload kind accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRule {
    /// Media types, or `type/*` for every subtype.
    pub types: Vec<String>,
    pub max_bytes: i64,
}

impl UploadRule {
    pub fn allows(&self, content_type: &str) -> bool {
        self.types.iter().any(|t| match t.strip_suffix("/*") {
            Some(major) => content_type
                .split_once('/')
                .is_some_and(|(m, _)| m == major),
            None => t == content_type,
        })
    }
}

pub(super) fn read(r: &mut Reader<'_>) -> FilesConfig {
    let image = rule(
        r,
        FileKind::Image,
        "image/jpeg,image/png,image/gif,image/webp,image/heic",
        10 * MIB,
    );
    let file = rule(
        r,
        FileKind::File,
        "application/pdf,application/zip,text/plain,text/csv,application/msword,\
         application/vnd.openxmlformats-officedocument.wordprocessingml.document,\
         application/vnd.ms-excel,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,\
         application/vnd.ms-powerpoint,\
         application/vnd.openxmlformats-officedocument.presentationml.presentation,\
         application/octet-stream",
        50 * MIB,
    );
    let voice = rule(
        r,
        FileKind::Voice,
        "audio/mpeg,audio/mp4,audio/aac,audio/ogg,audio/webm,audio/wav",
        10 * MIB,
    );
    FilesConfig {
        oss: oss(r),
        image,
        file,
        voice,
    }
}

fn rule(r: &mut Reader<'_>, kind: FileKind, default_types: &str, default_max: usize) -> UploadRule {
    let upper = kind.as_str().to_ascii_uppercase();
    let types_var = format!("UPLOAD_{upper}_TYPES");
    let types: Vec<String> = r
        .optional(&types_var)
        .as_deref()
        .unwrap_or(default_types)
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let bad: Vec<&String> = types
        .iter()
        .filter(|t| {
            !is_media_type(t)
                && !t
                    .strip_suffix("/*")
                    .is_some_and(|m| is_media_type(&format!("{m}/x")))
        })
        .collect();
    if types.is_empty() || !bad.is_empty() {
        r.problem(format!(
            "{types_var}: must be comma-separated media types (type/subtype or type/*), got {bad:?}"
        ));
    }
    let max_bytes = r.bounded(
        &format!("UPLOAD_{upper}_MAX_BYTES"),
        default_max,
        1..=MAX_UPLOAD_BYTES,
    );
    UploadRule {
        types,
        max_bytes: max_bytes as i64,
    }
}

fn oss(r: &mut Reader<'_>) -> Option<OssSettings> {
    let set: Vec<&str> = OSS_REQUIRED.into_iter().filter(|v| r.has(v)).collect();
    if set.is_empty() {
        return None;
    }
    for missing in OSS_REQUIRED.iter().filter(|v| !set.contains(*v)) {
        r.problem(format!(
            "{missing}: missing (file uploads need all of {}, or none)",
            OSS_REQUIRED.join(", ")
        ));
    }
    let access_key_id = r.optional("OSS_ACCESS_KEY_ID").unwrap_or_default();
    let access_key_secret = r
        .optional_secret("OSS_ACCESS_KEY_SECRET", 1)
        .unwrap_or_else(|| SecretString::from(String::new()));
    let bucket = r.optional("OSS_BUCKET_NAME").unwrap_or_default();
    if !bucket.is_empty() && !bucket_name_ok(&bucket) {
        r.problem("OSS_BUCKET_NAME: 3 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen".into());
    }
    let endpoint = r
        .optional("OSS_ENDPOINT")
        .map(|e| parse_endpoint(r, &e))
        .unwrap_or_default();
    let region = r.optional("OSS_REGION").or_else(|| region_of(&endpoint));
    if region.is_none() && !endpoint.is_empty() {
        r.problem("OSS_REGION: missing (it is derived only from endpoints like oss-cn-hangzhou.aliyuncs.com)".into());
    }
    let url_style = match r.optional("OSS_URL_STYLE").as_deref() {
        None | Some("virtual-hosted") => UrlStyle::VirtualHosted,
        Some("path") => UrlStyle::Path,
        Some(other) => {
            r.problem(format!(
                "OSS_URL_STYLE: `{other}` is not one of virtual-hosted, path"
            ));
            UrlStyle::VirtualHosted
        }
    };
    let max_ttl = shared_auth::oss_sig::MAX_EXPIRES_SECS as usize;
    let upload_ttl = r.bounded("OSS_UPLOAD_URL_TTL_SECS", 300, 1..=max_ttl);
    let download_ttl = r.bounded("OSS_DOWNLOAD_URL_TTL_SECS", 900, 1..=max_ttl);
    Some(OssSettings {
        access_key_id,
        access_key_secret,
        bucket,
        region: region.unwrap_or_default(),
        endpoint,
        url_style,
        upload_ttl: Duration::from_secs(upload_ttl as u64),
        download_ttl: Duration::from_secs(download_ttl as u64),
    })
}

/// OSS's bucket naming rule.
fn bucket_name_ok(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// `host`, `https://host` or `http://host:port`, as `scheme://host[:port]`.
fn parse_endpoint(r: &mut Reader<'_>, value: &str) -> String {
    let (scheme, rest) = value.split_once("://").unwrap_or(("https", value));
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !matches!(scheme, "http" | "https") || !host_ok {
        r.problem("OSS_ENDPOINT: must be a host (oss-cn-hangzhou.aliyuncs.com) or an http(s) URL without a path".into());
    }
    format!("{scheme}://{}", host.to_ascii_lowercase())
}

/// `cn-hangzhou` from `https://oss-cn-hangzhou.aliyuncs.com` (or its `-internal` twin).
fn region_of(endpoint: &str) -> Option<String> {
    let host = endpoint.split_once("://")?.1;
    let region = host.strip_prefix("oss-")?.strip_suffix(".aliyuncs.com")?;
    let region = region.strip_suffix("-internal").unwrap_or(region);
    (!region.is_empty() && !region.contains('.')).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::Config;

    use super::*;

    fn with(extra: &[(&str, &str)]) -> Result<Config, String> {
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", "postgres://u@localhost/db"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("TMS_API_URL", "http://127.0.0.1:8100/"),
            ("TMS_API_KEY", "k"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("INTERNAL_API_SECRET", "fedcba9876543210fedcba9876543210"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        Config::from_map(&vars).map_err(|e| e.to_string())
    }

    const OSS: [(&str, &str); 4] = [
        ("OSS_ACCESS_KEY_ID", "id"),
        ("OSS_ACCESS_KEY_SECRET", "oss-secret-value"),
        ("OSS_BUCKET_NAME", "teamchat-files"),
        ("OSS_ENDPOINT", "oss-cn-hangzhou.aliyuncs.com"),
    ];

    #[test]
    fn uploads_are_off_without_oss_and_rules_have_defaults() {
        let c = with(&[]).unwrap();
        assert!(c.files.oss.is_none());
        assert!(c.files.image.allows("image/png"));
        assert!(!c.files.image.allows("image/svg+xml"));
        assert!(!c.files.file.allows("text/html"));
        assert_eq!(c.files.voice.max_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn oss_settings_derive_region_and_scheme() {
        let c = with(&OSS).unwrap();
        let oss = c.files.oss.unwrap();
        assert_eq!(oss.endpoint, "https://oss-cn-hangzhou.aliyuncs.com");
        assert_eq!(oss.region, "cn-hangzhou");
        assert_eq!(oss.url_style, UrlStyle::VirtualHosted);
        assert_eq!(oss.upload_ttl, Duration::from_secs(300));
        assert_eq!(oss.download_ttl, Duration::from_secs(900));
        let mut local = OSS.to_vec();
        local.extend([
            ("OSS_ENDPOINT", "http://127.0.0.1:9100"),
            ("OSS_REGION", "dev-local"),
            ("OSS_URL_STYLE", "path"),
        ]);
        let oss = with(&local).unwrap().files.oss.unwrap();
        assert_eq!(
            (oss.endpoint.as_str(), oss.region.as_str()),
            ("http://127.0.0.1:9100", "dev-local")
        );
        assert_eq!(oss.url_style, UrlStyle::Path);
    }

    #[test]
    fn oss_is_all_or_nothing_and_checked() {
        let err = with(&[("OSS_BUCKET_NAME", "b")]).unwrap_err();
        for needle in [
            "OSS_ACCESS_KEY_ID: missing",
            "OSS_ENDPOINT: missing",
            "OSS_BUCKET_NAME: 3 to 63",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
        let mut bad = OSS.to_vec();
        bad.extend([
            ("OSS_ENDPOINT", "ftp://files.example.com/x"),
            ("OSS_URL_STYLE", "sideways"),
            ("OSS_UPLOAD_URL_TTL_SECS", "0"),
        ]);
        let err = with(&bad).unwrap_err();
        for needle in [
            "OSS_ENDPOINT:",
            "OSS_REGION: missing",
            "OSS_URL_STYLE:",
            "OSS_UPLOAD_URL_TTL_SECS:",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
        assert!(!err.contains("oss-secret-value"), "secret echoed: {err}");
    }

    #[test]
    fn upload_rules_are_configurable_and_checked() {
        let c = with(&[
            ("UPLOAD_IMAGE_TYPES", "image/*, Image/X-Raw"),
            ("UPLOAD_FILE_MAX_BYTES", "1000"),
        ])
        .unwrap();
        assert!(c.files.image.allows("image/anything"));
        assert!(c.files.image.allows("image/x-raw"));
        assert!(!c.files.image.allows("video/mp4"));
        assert_eq!(c.files.file.max_bytes, 1000);
        let err = with(&[
            ("UPLOAD_VOICE_TYPES", "audio/ogg; codecs=opus"),
            ("UPLOAD_IMAGE_MAX_BYTES", "0"),
        ])
        .unwrap_err();
        assert!(err.contains("UPLOAD_VOICE_TYPES"), "{err}");
        assert!(err.contains("UPLOAD_IMAGE_MAX_BYTES"), "{err}");
    }
}
