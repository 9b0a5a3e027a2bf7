//! Files on OSS: upload URLs (a type allowlist and a size limit per kind, a
//! key namespaced to the user, every issued key recorded), the attachment
//! rule of sends (only a key issued to the sender, with its kind, type and
//! size), and signed download URLs in message answers and events.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;
use shared_types::api::{Attachment, Message, MessageKind};
use shared_types::files::{is_media_type, FileKind, UploadUrl, UploadUrlRequest};
use shared_types::ErrorCode;
use uuid::Uuid;

use crate::config::OssSettings;
use crate::error::{AppError, AppResult};
use crate::models::file::UploadRow;
use crate::models::AuthUser;
use crate::rate_limit::LimitKind;
use crate::repositories::files as repo;
use crate::state::AppState;

/// Longest accepted `filename`, in bytes.
pub const MAX_FILENAME_BYTES: usize = 255;
/// Longest file name part of an object key, in bytes.
const MAX_KEY_NAME_BYTES: usize = 80;
/// Longest extension kept whole when a name is shortened.
const MAX_EXTENSION_BYTES: usize = 16;
/// The user segment of a key: the TMS id with everything but RFC 3986
/// unreserved characters percent-encoded, so `/` cannot forge a namespace.
const USER_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `POST /files/upload-url`: checks the request against the kind's rules,
/// records the key as issued to the caller and signs a PUT URL for it.
pub async fn upload_url(
    state: &AppState,
    me: &AuthUser,
    input: UploadUrlRequest,
) -> AppResult<UploadUrl> {
    let oss = storage(state)?;
    let content_type = input.content_type.to_ascii_lowercase();
    if !is_media_type(&content_type) {
        return Err(AppError::validation(
            "content_type must be a media type such as image/png, without parameters",
        ));
    }
    let rule = state.config.files.rule(input.kind);
    if !rule.allows(&content_type) {
        return Err(AppError::with_details(
            ErrorCode::UnsupportedMediaType,
            format!(
                "{content_type} is not accepted for {} uploads",
                input.kind.as_str()
            ),
            json!({ "kind": input.kind, "allowed": rule.types }),
        ));
    }
    if input.size <= 0 {
        return Err(AppError::validation(
            "size must be a positive number of bytes",
        ));
    }
    if input.size > rule.max_bytes {
        return Err(AppError::with_details(
            ErrorCode::PayloadTooLarge,
            format!(
                "{} uploads are at most {} bytes",
                input.kind.as_str(),
                rule.max_bytes
            ),
            json!({ "kind": input.kind, "max_bytes": rule.max_bytes }),
        ));
    }
    let name = key_file_name(&input.filename).map_err(AppError::validation)?;

    // only URLs that would be issued spend the budget (bad input is refused above)
    state
        .limits
        .enforce(&me.tms_user_id, LimitKind::UploadUrl)
        .await?;

    let object_key = format!(
        "u/{}/{}/{name}",
        utf8_percent_encode(&me.tms_user_id, USER_SEGMENT),
        Uuid::new_v4()
    );
    let now = state.clock.now();
    repo::insert(
        &state.db,
        &UploadRow {
            object_key: object_key.clone(),
            user_id: me.user_id,
            kind: input.kind.into(),
            content_type: content_type.clone(),
            size_bytes: input.size,
            created_at: now,
        },
    )
    .await?;
    let signed = oss.upload_url(&object_key, &content_type, input.size, now);
    Ok(UploadUrl {
        upload_url: signed.url,
        method: "PUT".into(),
        object_key,
        expires_at: signed.expires_at,
        headers: BTreeMap::from([("Content-Type".to_string(), content_type)]),
    })
}

/// The attachment a send of `kind` may store: its object (named by key, or by
/// `oss_url` in this bucket) must have been issued to the sender, for this
/// kind, with this content type and size. The stored copy keeps the key and
/// the client's display fields, never a URL.
pub async fn claim_attachment(
    state: &AppState,
    me: &AuthUser,
    kind: MessageKind,
    attachment: &Attachment,
) -> AppResult<Attachment> {
    let file_kind = FileKind::of_message(kind).ok_or_else(|| {
        AppError::validation("only image, file and voice messages carry attachments")
    })?;
    let key = match attachment.oss_url.as_deref() {
        Some(url) if attachment.object_key.is_empty() => {
            storage(state)?.key_of(url).ok_or_else(|| {
                AppError::validation(
                    "attachment.oss_url is not an object URL of this service's bucket",
                )
            })?
        }
        _ => attachment.object_key.clone(),
    };
    let issued = repo::find(&state.db, &key)
        .await?
        .filter(|u| u.user_id == me.user_id)
        .ok_or_else(|| {
            AppError::forbidden(
                "attachment: this object was not issued to you (get an upload URL from POST /api/v1/files/upload-url)",
            )
        })?;
    let issued_kind = FileKind::from(issued.kind);
    if issued_kind != file_kind {
        return Err(AppError::validation(format!(
            "attachment: the object was issued for {} messages",
            issued_kind.as_str()
        )));
    }
    if !attachment
        .content_type
        .eq_ignore_ascii_case(&issued.content_type)
        || attachment.size_bytes != issued.size_bytes
    {
        return Err(AppError::validation(format!(
            "attachment: content_type and size_bytes must be the upload's ({}, {} bytes)",
            issued.content_type, issued.size_bytes
        )));
    }
    Ok(Attachment {
        object_key: key,
        content_type: issued.content_type,
        size_bytes: issued.size_bytes,
        file_name: attachment.file_name.clone(),
        width: attachment.width,
        height: attachment.height,
        duration_ms: attachment.duration_ms,
        oss_url: None,
        url: None,
        url_expires_at: None,
    })
}

/// Gives every attachment a signed GET URL valid for `OSS_DOWNLOAD_URL_TTL_SECS`;
/// without OSS configured, attachments go without one.
pub fn sign_urls(state: &AppState, messages: &mut [Message]) {
    let Some(oss) = state.config.files.oss.as_ref() else {
        return;
    };
    let now = state.clock.now();
    for attachment in messages.iter_mut().filter_map(|m| m.attachment.as_mut()) {
        let signed = oss.download_url(&attachment.object_key, now);
        attachment.url = Some(signed.url);
        attachment.url_expires_at = Some(signed.expires_at);
    }
}

fn storage(state: &AppState) -> AppResult<&OssSettings> {
    state.config.files.oss.as_ref().ok_or_else(|| {
        AppError::new(
            ErrorCode::StorageNotConfigured,
            "file uploads are not available: no object storage is configured (OSS_*)",
        )
    })
}

/// The file name part of an object key: ASCII letters, digits, `.`, `_` and
/// `-` (anything else becomes `_`, runs of `_` collapse), no leading dot or
/// dash, at most 80 bytes with a short extension kept. `Err`: a blank name,
/// one over 255 bytes or with control characters, or nothing usable left.
pub fn key_file_name(filename: &str) -> Result<String, String> {
    if filename.trim().is_empty()
        || filename.len() > MAX_FILENAME_BYTES
        || filename.chars().any(char::is_control)
    {
        return Err(format!(
            "filename must be 1 to {MAX_FILENAME_BYTES} bytes, without control characters"
        ));
    }
    let mut name = String::with_capacity(filename.len());
    for c in filename.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '_'
        };
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    let name = name
        .trim_start_matches(['.', '-', '_'])
        .trim_end_matches(['.', '_']);
    if !name.bytes().any(|b| b.is_ascii_alphanumeric()) {
        return Err("filename has no letters or digits to keep".into());
    }
    if name.len() <= MAX_KEY_NAME_BYTES {
        return Ok(name.to_string());
    }
    // all ASCII by now, so any byte index is a char boundary
    let extension = name
        .rfind('.')
        .map(|dot| &name[dot..])
        .filter(|ext| ext.len() <= MAX_EXTENSION_BYTES)
        .unwrap_or("");
    let stem = &name[..MAX_KEY_NAME_BYTES - extension.len()];
    Ok(format!("{}{extension}", stem.trim_end_matches(['.', '_'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitised() {
        for (given, kept) in [
            ("cat.png", "cat.png"),
            ("My Photo (1).PNG", "My_Photo_1_.PNG"),
            ("../../etc/passwd", "etc_passwd"),
            (".hidden", "hidden"),
            ("照片.jpg", "jpg"),
            ("a  b\u{00e9}c.tar.gz", "a_b_c.tar.gz"),
            ("-rf .txt", "rf_.txt"),
        ] {
            assert_eq!(key_file_name(given).as_deref(), Ok(kept), "{given}");
        }
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.jpeg", "x".repeat(200));
        let kept = key_file_name(&long).unwrap();
        assert_eq!(kept.len(), MAX_KEY_NAME_BYTES);
        assert!(kept.ends_with("x.jpeg"), "{kept}");
        let no_ext = key_file_name(&"y".repeat(100)).unwrap();
        assert_eq!(no_ext, "y".repeat(MAX_KEY_NAME_BYTES));
    }

    #[test]
    fn unusable_names_are_refused() {
        for bad in [
            "",
            "   ",
            "..",
            "___",
            "a\nb.png",
            "x\u{0}",
            &"a".repeat(256),
        ] {
            assert!(key_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
