use chrono::{DateTime, Utc};
use shared_types::api::{Conversation, ConversationType, Member, MemberRole};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: Uuid,
    pub kind: DbConversationKind,
    pub title: Option<String>,
    /// The creator's TMS id.
    pub created_by: String,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub tms_user_id: String,
    pub role: DbMemberRole,
    pub joined_at: DateTime<Utc>,
    pub last_read_seq: i64,
}

/// `conversations.kind` as stored; an unknown value fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DbConversationKind {
    Direct,
    Group,
}

impl From<DbConversationKind> for ConversationType {
    fn from(kind: DbConversationKind) -> Self {
        match kind {
            DbConversationKind::Direct => Self::Direct,
            DbConversationKind::Group => Self::Group,
        }
    }
}

/// `conversation_members.role` as stored; an unknown value fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DbMemberRole {
    Owner,
    Admin,
    Member,
}

impl From<MemberRole> for DbMemberRole {
    fn from(role: MemberRole) -> Self {
        match role {
            MemberRole::Owner => Self::Owner,
            MemberRole::Admin => Self::Admin,
            MemberRole::Member => Self::Member,
        }
    }
}

impl From<DbMemberRole> for MemberRole {
    fn from(role: DbMemberRole) -> Self {
        match role {
            DbMemberRole::Owner => Self::Owner,
            DbMemberRole::Admin => Self::Admin,
            DbMemberRole::Member => Self::Member,
        }
    }
}

impl MemberRow {
    pub fn role(&self) -> MemberRole {
        self.role.into()
    }

    pub fn can_administer(&self) -> bool {
        matches!(self.role(), MemberRole::Owner | MemberRole::Admin)
    }

    pub fn into_member(self) -> Member {
        Member {
            role: self.role.into(),
            user_id: self.tms_user_id,
            joined_at: self.joined_at,
            last_read_seq: self.last_read_seq,
            profile: None,
        }
    }
}

impl ConversationRow {
    pub fn kind(&self) -> ConversationType {
        self.kind.into()
    }

    /// `members`: the first ones in join order; `member_count`: all of them.
    pub fn into_conversation(self, members: Vec<Member>, member_count: i64) -> Conversation {
        Conversation {
            kind: self.kind.into(),
            id: self.id,
            title: self.title,
            created_by: self.created_by,
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_message_at: self.last_message_at,
            members,
            member_count,
        }
    }
}

/// One row of "my conversations", with its last message columns flattened.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    pub id: Uuid,
    pub kind: DbConversationKind,
    pub title: Option<String>,
    pub last_seq: i64,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub activity_at: DateTime<Utc>,
    pub unread_count: i64,
    pub unread_mention_count: i64,
    pub member_ids: Vec<String>,
    pub pinned: bool,
    pub archived: bool,
    pub notification_level: crate::models::settings::DbNotificationLevel,
    pub muted_until: Option<DateTime<Utc>>,
    pub member_count: i64,
    #[sqlx(flatten)]
    pub last_message: crate::models::message::LastMessageColumns,
}
