use chrono::{DateTime, Utc};
use shared_types::settings::{ConversationSettings, NotificationLevel};
use uuid::Uuid;

/// `conversation_members.notification_level` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DbNotificationLevel {
    All,
    Mentions,
    None,
}

impl From<NotificationLevel> for DbNotificationLevel {
    fn from(level: NotificationLevel) -> Self {
        match level {
            NotificationLevel::All => Self::All,
            NotificationLevel::Mentions => Self::Mentions,
            NotificationLevel::None => Self::None,
        }
    }
}

impl From<DbNotificationLevel> for NotificationLevel {
    fn from(level: DbNotificationLevel) -> Self {
        match level {
            DbNotificationLevel::All => Self::All,
            DbNotificationLevel::Mentions => Self::Mentions,
            DbNotificationLevel::None => Self::None,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettingsRow {
    pub conversation_id: Uuid,
    pub notification_level: DbNotificationLevel,
    pub muted_until: Option<DateTime<Utc>>,
    pub pinned: bool,
    pub archived: bool,
}

/// A change of settings: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    pub notification_level: Option<DbNotificationLevel>,
    pub muted_until: Option<Option<DateTime<Utc>>>,
    pub pinned: Option<bool>,
    pub archived: Option<bool>,
}

impl From<SettingsRow> for ConversationSettings {
    fn from(row: SettingsRow) -> Self {
        ConversationSettings {
            conversation_id: row.conversation_id,
            notification_level: row.notification_level.into(),
            muted_until: row.muted_until,
            pinned: row.pinned,
            archived: row.archived,
        }
    }
}
