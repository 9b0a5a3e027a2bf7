//! Limits shared by edge and core, so both reject the same input.

/// Per-user REST requests per minute.
pub const API_REQUESTS_PER_MINUTE: u32 = 100;
/// Per-user WebSocket messages per second.
pub const WS_MESSAGES_PER_SECOND: u32 = 10;
/// Per-user upload URLs per minute.
pub const UPLOAD_URLS_PER_MINUTE: u32 = 5;

/// Largest text message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Largest `client_msg_id`, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 64;
/// Largest group title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// Most members a group may be created with in one request.
pub const MAX_GROUP_MEMBERS_PER_REQUEST: usize = 256;
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
