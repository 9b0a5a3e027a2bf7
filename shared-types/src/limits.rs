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

/// Largest attachment `object_key`, in bytes.
pub const MAX_OBJECT_KEY_BYTES: usize = 512;
/// Largest attachment `oss_url` (the original design's way to name an object), in bytes.
pub const MAX_OSS_URL_BYTES: usize = 2048;

// Each limit is checked by one function below, which edge and core both call;
// `Err` is the message for a `VALIDATION_ERROR`.

/// A `client_msg_id` when given: 1 to 64 bytes, not blank. Stored as sent.
pub fn check_client_msg_id(id: &str) -> Result<(), String> {
    if id.trim().is_empty() || id.len() > MAX_CLIENT_MSG_ID_LEN {
        return Err(format!(
            "client_msg_id must be 1 to {MAX_CLIENT_MSG_ID_LEN} bytes, not blank"
        ));
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

/// Any message content (a caption too): at most 4000 characters.
pub fn check_message_length(content: &str) -> Result<(), String> {
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
