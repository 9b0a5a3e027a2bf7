//! The documents' examples, written as values of the wire types: they are
//! compiled, so an example cannot drift from the schema it illustrates.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shared_types::api::{
    AddMembers, Attachment, BatchUsers, Conversation, ConversationSummary, ConversationType,
    CreateConversation, EditMessage, Me, Member, MemberRole, Message, MessageKind, Presence,
    SendMessage, UpdateConversation, UpdateMemberRole, UserProfile,
};
use shared_types::polls::{CreatePoll, Poll, PollOption, Vote};
use shared_types::reactions::{MessageReactions, ReactionChanged, ReactionCount};
use shared_types::socket::{
    ConversationRef, MemberRemoved, MessageRef, MessageStatusChanged, PresenceChanged, ReceiptKind,
    UserTyping,
};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Components, RefOr};
use uuid::Uuid;

const CONVERSATION: Uuid = Uuid::from_u128(0x0192f1c4_5d6e_7f80_9a1b_2c3d4e5f6a01);
const MESSAGE: Uuid = Uuid::from_u128(0x0192f1c4_5d6e_7f80_9a1b_2c3d4e5f6a02);
const POLL: Uuid = Uuid::from_u128(0x0192f1c4_5d6e_7f80_9a1b_2c3d4e5f6a03);
const OPTION_A: Uuid = Uuid::from_u128(0x0192f1c4_5d6e_7f80_9a1b_2c3d4e5f6a04);
const OPTION_B: Uuid = Uuid::from_u128(0x0192f1c4_5d6e_7f80_9a1b_2c3d4e5f6a05);

fn at(minute: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(2026, 1, 15, 9, minute, 0)
        .single()
        .unwrap_or_default()
}

fn value(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

fn profile(id: &str, name: &str) -> UserProfile {
    UserProfile {
        id: id.into(),
        display_name: name.into(),
        email: Some(format!("{id}@example.com")),
        avatar_url: None,
    }
}

fn member(id: &str, name: &str, role: MemberRole) -> Member {
    Member {
        user_id: id.into(),
        role,
        joined_at: at(0),
        last_read_seq: 41,
        profile: Some(profile(id, name)),
    }
}

fn message() -> Message {
    Message {
        id: MESSAGE,
        conversation_id: CONVERSATION,
        seq: 42,
        sender_id: "alice".into(),
        kind: MessageKind::Text,
        content: Some("Lunch at noon?".into()),
        client_msg_id: Some("web-7f3a-0001".into()),
        reply_to_id: None,
        attachment: None,
        created_at: at(30),
        edited_at: None,
        deleted_at: None,
        mentions: vec!["bob".into()],
        mentions_all: false,
        poll_id: None,
        system: None,
        reactions: Some(vec![ReactionCount {
            emoji: "👍".into(),
            count: 2,
            me: true,
        }]),
    }
}

fn poll() -> Poll {
    let option = |id, position, text: &str, voters: &[&str]| PollOption {
        id,
        position,
        text: text.into(),
        votes: voters.len() as i64,
        voters: Some(voters.iter().map(|v| v.to_string()).collect()),
    };
    Poll {
        id: POLL,
        conversation_id: CONVERSATION,
        message_id: Some(MESSAGE),
        creator_id: "alice".into(),
        question: "Lunch?".into(),
        multiple: false,
        anonymous: false,
        closes_at: Some(at(59)),
        closed_at: None,
        closed: false,
        options: vec![
            option(OPTION_A, 0, "Pizza", &["bob"]),
            option(OPTION_B, 1, "Sushi", &[]),
        ],
        total_voters: 1,
        version: 2,
        created_at: at(30),
        my_votes: Some(vec![OPTION_A]),
    }
}

/// `(schema name, example)` for the schemas that get one.
fn examples() -> Vec<(&'static str, Value)> {
    let members = vec![
        member("alice", "Alice Martin", MemberRole::Owner),
        member("bob", "Bob Chen", MemberRole::Member),
    ];
    vec![
        ("UserProfile", value(profile("alice", "Alice Martin"))),
        (
            "Me",
            value(Me {
                tms_user_id: "alice".into(),
                profile: Some(profile("alice", "Alice Martin")),
            }),
        ),
        (
            "BatchUsers",
            value(BatchUsers {
                ids: vec!["alice".into(), "bob".into()],
            }),
        ),
        (
            "CreateConversation",
            value(CreateConversation {
                kind: ConversationType::Group,
                title: Some("Launch".into()),
                member_ids: vec!["bob".into(), "carol".into()],
            }),
        ),
        (
            "UpdateConversation",
            value(UpdateConversation {
                title: "Launch day".into(),
            }),
        ),
        (
            "AddMembers",
            value(AddMembers {
                member_ids: vec!["dave".into()],
            }),
        ),
        (
            "UpdateMemberRole",
            value(UpdateMemberRole {
                role: MemberRole::Admin,
            }),
        ),
        (
            "Conversation",
            value(Conversation {
                id: CONVERSATION,
                kind: ConversationType::Group,
                title: Some("Launch".into()),
                created_by: "alice".into(),
                last_seq: 42,
                created_at: at(0),
                updated_at: at(30),
                last_message_at: Some(at(30)),
                member_count: members.len() as i64,
                members,
            }),
        ),
        (
            "ConversationSummary",
            value(ConversationSummary {
                id: CONVERSATION,
                kind: ConversationType::Group,
                title: Some("Launch".into()),
                last_seq: 42,
                unread_count: 1,
                unread_mention_count: 1,
                updated_at: at(30),
                last_message_at: Some(at(30)),
                last_message: Some(Message {
                    reactions: None,
                    ..message()
                }),
                member_ids: vec!["alice".into(), "bob".into()],
                pinned: true,
                archived: false,
                notification_level: shared_types::settings::NotificationLevel::Mentions,
                muted_until: None,
                member_count: 2,
            }),
        ),
        (
            "SendMessage",
            value(SendMessage {
                conversation_id: CONVERSATION,
                kind: MessageKind::Text,
                content: Some("Lunch at noon?".into()),
                client_msg_id: Some("web-7f3a-0001".into()),
                reply_to_id: None,
                attachment: None,
                mentions: vec!["bob".into()],
                mentions_all: false,
            }),
        ),
        (
            "Attachment",
            value(Attachment {
                object_key: "u/alice/0192f1c4-7b1e-4d3a-9c55-2f0e8a6d1b42/photo.jpg".into(),
                content_type: "image/jpeg".into(),
                size_bytes: 482_133,
                file_name: Some("photo.jpg".into()),
                width: Some(1600),
                height: Some(1200),
                duration_ms: None,
                oss_url: None,
                url: Some(
                    "https://teamchat.oss-cn-hangzhou.aliyuncs.com/u/alice/\
                     0192f1c4-7b1e-4d3a-9c55-2f0e8a6d1b42/photo.jpg?\
                     x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-expires=900&…"
                        .into(),
                ),
                url_expires_at: Some(at(15)),
            }),
        ),
        (
            "EditMessage",
            value(EditMessage {
                content: "Lunch at 12:30?".into(),
            }),
        ),
        ("Message", value(message())),
        (
            "Presence",
            value(Presence {
                user_id: "bob".into(),
                online: false,
                last_seen_at: Some(at(12)),
            }),
        ),
        (
            "CreatePoll",
            value(CreatePoll {
                question: "Lunch?".into(),
                options: vec!["Pizza".into(), "Sushi".into()],
                multiple: false,
                anonymous: false,
                closes_at: Some(at(59)),
            }),
        ),
        (
            "Vote",
            value(Vote {
                option_ids: vec![OPTION_A],
            }),
        ),
        ("Poll", value(poll())),
        (
            "MessageReactions",
            value(MessageReactions {
                message_id: MESSAGE,
                conversation_id: CONVERSATION,
                reactions: message().reactions.unwrap_or_default(),
            }),
        ),
        (
            "ReactionChanged",
            value(ReactionChanged {
                conversation_id: CONVERSATION,
                message_id: MESSAGE,
                user_id: "bob".into(),
                emoji: "👍".into(),
                count: 2,
            }),
        ),
        (
            "ConversationRef",
            value(ConversationRef {
                conversation_id: CONVERSATION,
            }),
        ),
        (
            "MessageRef",
            value(MessageRef {
                conversation_id: CONVERSATION,
                message_id: MESSAGE,
            }),
        ),
        (
            "UserTyping",
            value(UserTyping {
                conversation_id: CONVERSATION,
                user_id: "bob".into(),
                typing: true,
            }),
        ),
        (
            "PresenceChanged",
            value(PresenceChanged {
                user_id: "bob".into(),
                last_seen_at: Some(at(12)),
            }),
        ),
        (
            "MemberRemoved",
            value(MemberRemoved {
                conversation_id: CONVERSATION,
                user_id: "carol".into(),
            }),
        ),
        (
            "MessageStatusChanged",
            value(MessageStatusChanged {
                conversation_id: CONVERSATION,
                message_id: MESSAGE,
                user_id: "bob".into(),
                status: ReceiptKind::Read,
                delivered_at: Some(at(31)),
                read_at: Some(at(32)),
            }),
        ),
    ]
}

/// Sets each example on its schema. Returns the names that have no schema
/// (a renamed type), which the tests refuse.
pub fn attach(components: &mut Components) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (name, example) in examples() {
        match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::Object(schema))) => schema.examples = vec![example],
            _ => missing.push(name),
        }
    }
    missing
}
