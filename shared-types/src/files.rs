//! Files: `POST /api/v1/files/upload-url` and the kinds of uploads.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::MessageKind;

/// What an upload is for; each kind has its own type allowlist and size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Image,
    File,
    Voice,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Image, FileKind::File, FileKind::Voice];

    pub const fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::File => "file",
            FileKind::Voice => "voice",
        }
    }

    /// The message kind that carries an upload of this kind.
    pub const fn message_kind(self) -> MessageKind {
        match self {
            FileKind::Image => MessageKind::Image,
            FileKind::File => MessageKind::File,
            FileKind::Voice => MessageKind::Voice,
        }
    }

    /// The upload kind a message kind carries, if any.
    pub const fn of_message(kind: MessageKind) -> Option<FileKind> {
        match kind {
            MessageKind::Image => Some(FileKind::Image),
            MessageKind::File => Some(FileKind::File),
            MessageKind::Voice => Some(FileKind::Voice),
            MessageKind::Text | MessageKind::System | MessageKind::Poll => None,
        }
    }
}

/// `POST /api/v1/files/upload-url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadUrlRequest {
    pub kind: FileKind,
    /// A bare media type, e.g. `image/png` (no parameters).
    pub content_type: String,
    /// The exact size of the file, in bytes.
    pub size: i64,
    /// The file's name; the object key carries a sanitised copy.
    pub filename: String,
}

/// The answer: `PUT` the file's bytes to `upload_url` with `headers` before
/// `expires_at`, then send a message whose attachment names `object_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadUrl {
    pub upload_url: String,
    /// Always `PUT`.
    pub method: String,
    pub object_key: String,
    pub expires_at: DateTime<Utc>,
    /// Headers the upload must carry with exactly these values.
    pub headers: BTreeMap<String, String>,
}

/// Longest type or subtype of a media type (RFC 6838 §4.2).
const MAX_MEDIA_NAME: usize = 127;

/// A bare media type, `type/subtype`, lowercase, in RFC 6838's restricted-name
/// characters and without parameters (`text/plain; charset=utf-8` is not one):
/// the upload URL binds the `Content-Type` header to exactly this value.
pub fn is_media_type(value: &str) -> bool {
    let name = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_MEDIA_NAME
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&-^_.+".contains(&b))
    };
    value
        .split_once('/')
        .is_some_and(|(kind, sub)| name(kind) && name(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        for ok in [
            "image/png",
            "application/vnd.ms-excel",
            "audio/mp4",
            "image/svg+xml",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "Image/PNG",
            "text/plain; charset=utf-8",
            "image/png/x",
            "image/*",
            "image/ png",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn kinds_map_to_message_kinds() {
        for kind in FileKind::ALL {
            assert_eq!(FileKind::of_message(kind.message_kind()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(FileKind::of_message(MessageKind::Text), None);
    }
}
