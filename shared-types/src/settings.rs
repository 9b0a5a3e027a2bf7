//! A member's own settings for one conversation: notifications, pin, archive.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Which new messages notify the member when no socket of theirs is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// Every message.
    #[default]
    All,
    /// Only messages that mention the member (or `@all`).
    Mentions,
    /// None.
    None,
}

/// `GET /conversations/{id}/settings`, and the data of the
/// `conversation_settings_updated` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSettings {
    pub conversation_id: Uuid,
    pub notification_level: NotificationLevel,
    /// No notification at all until then (whatever the level); `null`: not muted.
    pub muted_until: Option<DateTime<Utc>>,
    /// Pinned conversations come first in the conversation list.
    pub pinned: bool,
    /// Archived conversations are left out of the list unless `?archived=true`.
    pub archived: bool,
}

/// A conversation's privacy settings, the same for every member
/// (`GET/PUT /conversations/{id}/privacy`): with `push_previews` off, push
/// requests for its messages carry no text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConversationPrivacy {
    pub push_previews: bool,
}

/// `PATCH /conversations/{id}/settings`: only the fields given change;
/// `"muted_until": null` unmutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_level: Option<NotificationLevel>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DateTime<Utc>>))]
    pub muted_until: Option<Option<DateTime<Utc>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
}

/// A field that is present (possibly `null`) becomes `Some`; absent stays `None` (the default).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl UpdateConversationSettings {
    /// `Err` is the `VALIDATION_ERROR` message: a change must name at least one field.
    pub fn check(&self) -> Result<(), String> {
        if self.notification_level.is_none()
            && self.muted_until.is_none()
            && self.pinned.is_none()
            && self.archived.is_none()
        {
            return Err(
                "give at least one of notification_level, muted_until, pinned, archived".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_unmutes_and_absent_keeps() {
        let u: UpdateConversationSettings =
            serde_json::from_str(r#"{"muted_until":null}"#).unwrap();
        assert_eq!(u.muted_until, Some(None));
        let u: UpdateConversationSettings = serde_json::from_str(r#"{"pinned":true}"#).unwrap();
        assert_eq!(u.muted_until, None);
        assert!(u.check().is_ok());
        let u: UpdateConversationSettings = serde_json::from_str("{}").unwrap();
        assert!(u.check().is_err());
        assert!(serde_json::from_str::<UpdateConversationSettings>(r#"{"pined":true}"#).is_err());
        assert!(serde_json::from_str::<UpdateConversationSettings>(
            r#"{"notification_level":"loud"}"#
        )
        .is_err());
    }
}
