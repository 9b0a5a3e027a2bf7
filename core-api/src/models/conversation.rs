use chrono::{DateTime, Utc};
use shared_types::api::{Conversation, ConversationType, Member, MemberRole};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub kind: String,
    pub title: Option<String>,
    /// The creator's TMS id.
    pub created_by: String,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub tms_user_id: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
    pub last_read_seq: i64,
}

pub fn kind_from_db(kind: &str) -> ConversationType {
    match kind {
        "direct" => ConversationType::Direct,
        _ => ConversationType::Group,
    }
}

pub fn kind_to_db(kind: ConversationType) -> &'static str {
    match kind {
        ConversationType::Direct => "direct",
        ConversationType::Group => "group",
    }
}

pub fn role_from_db(role: &str) -> MemberRole {
    match role {
        "owner" => MemberRole::Owner,
        "admin" => MemberRole::Admin,
        _ => MemberRole::Member,
    }
}

pub fn role_to_db(role: MemberRole) -> &'static str {
    match role {
        MemberRole::Owner => "owner",
        MemberRole::Admin => "admin",
        MemberRole::Member => "member",
    }
}

impl MemberRow {
    pub fn role(&self) -> MemberRole {
        role_from_db(&self.role)
    }

    pub fn can_administer(&self) -> bool {
        matches!(self.role(), MemberRole::Owner | MemberRole::Admin)
    }

    pub fn into_member(self) -> Member {
        Member {
            role: role_from_db(&self.role),
            user_id: self.tms_user_id,
            joined_at: self.joined_at,
            last_read_seq: self.last_read_seq,
            profile: None,
        }
    }
}

impl ConversationRow {
    pub fn kind(&self) -> ConversationType {
        kind_from_db(&self.kind)
    }

    pub fn into_conversation(self, members: Vec<Member>) -> Conversation {
        Conversation {
            kind: kind_from_db(&self.kind),
            id: self.id,
            title: self.title,
            created_by: self.created_by,
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_message_at: self.last_message_at,
            members,
        }
    }
}

/// One row of "my conversations", with its last message columns flattened.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    pub id: Uuid,
    pub kind: String,
    pub title: Option<String>,
    pub last_seq: i64,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub activity_at: DateTime<Utc>,
    pub unread_count: i64,
    pub member_ids: Vec<String>,
    #[sqlx(flatten)]
    pub last_message: crate::models::message::LastMessageColumns,
}
