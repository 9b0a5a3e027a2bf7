//! Public REST (`/api/v1`) request and response bodies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user profile as TMS serves it (cached at core as `user:{tms_user_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserProfile {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConversationType {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConversation {
    #[serde(rename = "type")]
    pub kind: ConversationType,
    #[serde(default)]
    pub title: Option<String>,
    pub member_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateConversation {
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddMembers {
    pub member_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateMemberRole {
    pub role: MemberRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: String,
    pub role: MemberRole,
    pub joined_at: DateTime<Utc>,
    pub last_read_seq: i64,
    /// Filled from the TMS profile cache; absent when TMS is unreachable and nothing is cached.
    #[serde(default)]
    pub profile: Option<UserProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: ConversationType,
    pub title: Option<String>,
    pub created_by: String,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    /// The first members in join order, at most 100 (`DETAIL_MEMBERS`):
    /// all of them when `member_count` ≤ 100; page the rest with
    /// `GET /conversations/{id}/members`.
    pub members: Vec<Member>,
    /// How many members the conversation has.
    #[serde(default)]
    pub member_count: i64,
}

/// One row of "my conversations".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: ConversationType,
    pub title: Option<String>,
    pub last_seq: i64,
    pub unread_count: i64,
    /// Unread messages that mention the caller (or everyone).
    pub unread_mention_count: i64,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_message: Option<Message>,
    /// The first members' ids in join order, at most 100 (all of them when
    /// `member_count` ≤ 100).
    pub member_ids: Vec<String>,
    /// The caller's settings of it (see `ConversationSettings`).
    pub pinned: bool,
    pub archived: bool,
    pub notification_level: crate::settings::NotificationLevel,
    pub muted_until: Option<DateTime<Utc>>,
    /// How many members the conversation has.
    #[serde(default)]
    pub member_count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageKind {
    Text,
    Image,
    File,
    Voice,
    System,
    /// Announces a poll (created with `POST /conversations/{id}/polls`); `poll_id` names it.
    Poll,
}

/// Metadata of an uploaded object, for image/file/voice messages. A send
/// names the object by `object_key` (from `POST /files/upload-url`) or, as
/// in the original design, by `oss_url`; core stores the key only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// Empty in a send that gives `oss_url` instead.
    #[serde(default)]
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub width: Option<i32>,
    #[serde(default)]
    pub height: Option<i32>,
    #[serde(default)]
    pub duration_ms: Option<i32>,
    /// Sends only: the object's URL in this service's bucket (query ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oss_url: Option<String>,
    /// Answers and events only: a signed GET URL of the object, valid until
    /// `url_expires_at`; absent when file storage is not configured. Never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendMessage {
    pub conversation_id: Uuid,
    #[serde(rename = "type", default = "default_kind")]
    pub kind: MessageKind,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub client_msg_id: Option<String>,
    #[serde(default)]
    pub reply_to_id: Option<Uuid>,
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// TMS ids of members this message mentions (at most 50); ids of
    /// non-members are dropped when it is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Mentions everyone (`@all`): group owners and admins only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mentions_all: bool,
}

/// A [`SendMessage`] that passed the send rules, the same at edge and core:
/// text needs non-blank content and no attachment; image, file and voice need
/// an attachment (an object key ≤ 512 bytes or an `oss_url` ≤ 2048 bytes, not
/// both; a content type, a positive size); core then checks that the object
/// was issued to the sender;
/// content ≤ 4000 characters; `system` is the server's only; at most 50
/// `mentions`, each a valid TMS id; a `client_msg_id` is optional (without one a send is not idempotent) and
/// otherwise 1 to 64 bytes, not blank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidSend(SendMessage);

impl TryFrom<SendMessage> for ValidSend {
    /// The `VALIDATION_ERROR` message.
    type Error = String;

    fn try_from(message: SendMessage) -> Result<Self, String> {
        use crate::limits::{
            check_client_msg_id, check_message_length, check_message_text, MAX_OBJECT_KEY_BYTES,
            MAX_OSS_URL_BYTES,
        };
        if let Some(id) = message.client_msg_id.as_deref() {
            check_client_msg_id(id)?;
        }
        crate::limits::check_mentions(&message.mentions)?;
        match message.kind {
            MessageKind::Text => {
                if message.attachment.is_some() {
                    return Err("a text message has no attachment".into());
                }
                check_message_text(message.content.as_deref().unwrap_or(""))?;
            }
            MessageKind::Image | MessageKind::File | MessageKind::Voice => {
                let Some(a) = &message.attachment else {
                    return Err("image, file and voice messages need an attachment".into());
                };
                let named = match (a.object_key.is_empty(), a.oss_url.as_deref()) {
                    (false, None) => a.object_key.len() <= MAX_OBJECT_KEY_BYTES,
                    (true, Some(url)) => !url.is_empty() && url.len() <= MAX_OSS_URL_BYTES,
                    _ => false,
                };
                if !named || a.size_bytes <= 0 || a.content_type.is_empty() {
                    return Err("attachment needs object_key (or oss_url, not both), \
                                content_type and a positive size_bytes"
                        .into());
                }
                crate::limits::check_attachment_fields(
                    &a.content_type,
                    a.file_name.as_deref(),
                    a.width,
                    a.height,
                    a.duration_ms,
                )?;
                crate::limits::check_storable("attachment.object_key", &a.object_key)?;
                if let Some(caption) = message.content.as_deref() {
                    check_message_length(caption)?;
                }
            }
            MessageKind::System => {
                return Err("system messages are written by the server only".into())
            }
            MessageKind::Poll => {
                return Err("polls are created with POST /api/v1/conversations/{id}/polls".into())
            }
        }
        Ok(Self(message))
    }
}

impl ValidSend {
    pub fn get(&self) -> &SendMessage {
        &self.0
    }

    pub fn into_inner(self) -> SendMessage {
        self.0
    }
}

impl std::ops::Deref for ValidSend {
    type Target = SendMessage;

    fn deref(&self) -> &SendMessage {
        &self.0
    }
}

fn default_kind() -> MessageKind {
    MessageKind::Text
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessage {
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    /// The sender's TMS user id.
    pub sender_id: String,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// `null` once deleted.
    pub content: Option<String>,
    pub client_msg_id: Option<String>,
    pub reply_to_id: Option<Uuid>,
    #[serde(default)]
    pub attachment: Option<Attachment>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// TMS ids of the members it mentions.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// It mentions everyone (`@all`).
    #[serde(default)]
    pub mentions_all: bool,
    /// The poll a `poll` message announces (absent on other kinds and on tombstones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_id: Option<Uuid>,
    /// Counts per emoji and whether the caller reacted: in REST message
    /// answers; absent in live events and in `last_message` previews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<crate::reactions::ReactionCount>>,
    /// What a `system` message records (absent on other kinds); its
    /// `content` is the same in plain English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::sync::SystemEvent>,
}

/// `GET /auth/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub tms_user_id: String,
    pub profile: Option<UserProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchUsers {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    #[serde(default)]
    pub checks: Option<serde_json::Value>,
}

/// `GET /api/v1/presence?user_ids=a,b`: one entry per asked id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presence {
    pub user_id: String,
    pub online: bool,
    /// When the user was last seen going offline; `null` while online or when never seen.
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Most ids one `GET /api/v1/presence` may ask for.
pub const MAX_PRESENCE_IDS: usize = 100;
