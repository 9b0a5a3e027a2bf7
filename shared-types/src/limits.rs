//! Limits shared by edge and core, so both reject the same input.

/// WebSocket messages per second a socket may send (the edge's local guard;
/// the per-user limits across sockets and edges are core's, configurable).
pub const WS_MESSAGES_PER_SECOND: u32 = 10;

/// Largest text message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Largest `client_msg_id`, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
/// Largest group title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// Most members a group may be created with in one request.
pub const MAX_GROUP_MEMBERS_PER_REQUEST: usize = 256;
/// Members a conversation's detail (and `conversation_updated`) carries at
/// most, the first in join order; the rest are paged with
/// `GET /conversations/{id}/members`. Also the most `member_ids` of a summary.
pub const DETAIL_MEMBERS: usize = 100;
/// Default and maximum page sizes for cursor pagination.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 100;
/// Largest REST request body core accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Largest Engine.IO frame the edge accepts, in bytes (advertised as `maxPayload`).
pub const MAX_WS_FRAME_BYTES: usize = 64 * 1024;

/// Polls: the question and each option, in characters; 2 to 10 options.
pub const MAX_POLL_QUESTION_CHARS: usize = 300;
pub const MAX_POLL_OPTION_CHARS: usize = 100;
pub const MIN_POLL_OPTIONS: usize = 2;
pub const MAX_POLL_OPTIONS: usize = 10;
/// A reaction is one grapheme cluster of at most this many bytes (UTF-8).
pub const MAX_REACTION_EMOJI_BYTES: usize = 32;
/// Different emoji one message can carry; adding a new one beyond is a conflict.
pub const MAX_REACTION_EMOJI_PER_MESSAGE: usize = 20;

/// Largest attachment `file_name`, in bytes (UTF-8), as most file systems allow.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Largest attachment `content_type`, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;
/// Largest image `width` and `height`, in pixels.
pub const MAX_IMAGE_DIMENSION: i32 = 100_000;
/// Longest voice `duration_ms`: 24 hours.
pub const MAX_DURATION_MS: i32 = 24 * 3600 * 1000;

/// Largest attachment `object_key`, in bytes.
pub const MAX_OBJECT_KEY_BYTES: usize = 512;
/// Largest attachment `oss_url` (the original design's way to name an object), in bytes.
pub const MAX_OSS_URL_BYTES: usize = 2048;

/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 50;

// Each limit is checked by one function below, which edge and core both call;
// `Err` is the message for a `VALIDATION_ERROR`.

/// Text Postgres can store: no U+0000 (a `text` column refuses it, which
/// would otherwise surface as a 500 after a send batch formed).
pub fn check_storable(field: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("{field} must not contain U+0000"));
    }
    Ok(())
}

/// A `client_msg_id` when given: 1 to 64 bytes, not blank. Stored as sent.
pub fn check_client_msg_id(id: &str) -> Result<(), String> {
    check_storable("client_msg_id", id)?;
    if id.trim().is_empty() || id.len() > MAX_CLIENT_MSG_ID_LEN {
        return Err(format!(
            "client_msg_id must be 1 to {MAX_CLIENT_MSG_ID_LEN} bytes, not blank"
        ));
    }
    Ok(())
}

/// A send's `mentions`: at most 50, each a valid TMS id (duplicates are
/// harmless: core keeps each once).
pub fn check_mentions(ids: &[String]) -> Result<(), String> {
    if ids.len() > MAX_MENTIONS {
        return Err(format!("mentions must name at most {MAX_MENTIONS} users"));
    }
    for id in ids {
        crate::TmsUserId::check(id).map_err(|e| format!("mentions: {e}"))?;
    }
    Ok(())
}

/// A text message's content (new or edited): not blank, at most 4000 characters.
pub fn check_message_text(content: &str) -> Result<(), String> {
    if content.trim().is_empty() {
        return Err("content must not be empty".into());
    }
    check_message_length(content)
}

/// Any message content (a caption too): at most 4000 characters, storable.
pub fn check_message_length(content: &str) -> Result<(), String> {
    check_storable("content", content)?;
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!(
            "content must be at most {MAX_MESSAGE_CHARS} characters"
        ));
    }
    Ok(())
}

/// A group title: trimmed, 1 to 120 characters; returns it trimmed.
pub fn normalize_title(title: Option<&str>) -> Result<String, String> {
    let title = title.map(str::trim).unwrap_or("");
    check_storable("title", title)?;
    if title.is_empty() {
        return Err("title is required".into());
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        ));
    }
    Ok(title.to_string())
}

/// How many member ids one request may name.
pub fn check_member_id_count(count: usize) -> Result<(), String> {
    if count > MAX_GROUP_MEMBERS_PER_REQUEST {
        return Err(format!(
            "at most {MAX_GROUP_MEMBERS_PER_REQUEST} member_ids per request"
        ));
    }
    Ok(())
}

/// An attachment's descriptive fields: `file_name` at most 255 bytes,
/// `content_type` at most 255 bytes, both storable; `width`, `height` in
/// 0..=100000 and `duration_ms` in 0..=24 h.
pub fn check_attachment_fields(
    content_type: &str,
    file_name: Option<&str>,
    width: Option<i32>,
    height: Option<i32>,
    duration_ms: Option<i32>,
) -> Result<(), String> {
    check_storable("attachment.content_type", content_type)?;
    if content_type.len() > MAX_CONTENT_TYPE_BYTES {
        return Err(format!(
            "attachment.content_type must be at most {MAX_CONTENT_TYPE_BYTES} bytes"
        ));
    }
    if let Some(name) = file_name {
        check_storable("attachment.file_name", name)?;
        if name.len() > MAX_FILE_NAME_BYTES {
            return Err(format!(
                "attachment.file_name must be at most {MAX_FILE_NAME_BYTES} bytes"
            ));
        }
    }
    for (field, value) in [("width", width), ("height", height)] {
        if value.is_some_and(|v| !(0..=MAX_IMAGE_DIMENSION).contains(&v)) {
            return Err(format!(
                "attachment.{field} must be between 0 and {MAX_IMAGE_DIMENSION}"
            ));
        }
    }
    if duration_ms.is_some_and(|v| !(0..=MAX_DURATION_MS).contains(&v)) {
        return Err(format!(
            "attachment.duration_ms must be between 0 and {MAX_DURATION_MS}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_refused_in_every_stored_text() {
        assert!(check_message_text("a\0b").unwrap_err().contains("U+0000"));
        assert!(check_message_length("\0").is_err());
        assert!(check_client_msg_id("m\0").is_err());
        assert!(normalize_title(Some("t\0")).is_err());
        assert!(
            check_message_text("ok \u{1}").is_ok(),
            "other controls are storable"
        );
    }

    #[test]
    fn attachment_fields_are_bounded() {
        let ok = |name: &str| check_attachment_fields("image/png", Some(name), None, None, None);
        assert!(ok(&"é".repeat(127)).is_ok()); // 254 bytes
        assert!(ok(&"a".repeat(255)).is_ok());
        assert!(ok(&"a".repeat(256)).unwrap_err().contains("file_name"));
        assert!(ok("a\0.png").is_err());
        let dims = |w, h, d| check_attachment_fields("image/png", None, w, h, d);
        assert!(dims(Some(0), Some(100_000), Some(0)).is_ok());
        assert!(dims(Some(-1), None, None).unwrap_err().contains("width"));
        assert!(dims(None, Some(100_001), None)
            .unwrap_err()
            .contains("height"));
        assert!(dims(None, None, Some(-5))
            .unwrap_err()
            .contains("duration_ms"));
        assert!(check_attachment_fields(&"x".repeat(256), None, None, None, None).is_err());
    }
}
