//! The Socket.IO events, one entry each: namespace, name (the constants of
//! `shared_types::socket`), payload and ack types. The AsyncAPI document and
//! `docs/socket-events.md` are generated from this list; a test checks it
//! names every event constant.

use std::borrow::Cow;

use shared_types::api::{Conversation, Message, SendMessage};
use shared_types::calls::{
    Call, CallEvent, CallRef, InviteCall, RelayedSignal, SendSignal, SignalSent,
};
use shared_types::polls::Poll;
use shared_types::reactions::ReactionChanged;
use shared_types::settings::ConversationSettings;
use shared_types::socket::{
    client_events as c, server_events as s, ConversationRef, MemberRemoved, MembersAdded,
    MessageRef, MessageStatusChanged, PresenceChanged, RefreshToken, SessionClosed, TokenExpired,
    TokenRefreshed, UserTyping, UserUpdated, NS_CALLS, NS_MESSAGING, NS_NOTIFICATIONS,
};
use shared_types::sync::ConversationRead;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::services::receipts::ReceiptView;

/// A schema by type: its name, and how to collect it with its dependencies.
#[derive(Clone, Copy)]
pub struct Payload {
    pub name: fn() -> Cow<'static, str>,
    pub collect: fn(&mut Vec<(String, RefOr<Schema>)>),
}

pub fn of<T: ToSchema>() -> Payload {
    Payload {
        name: T::name,
        collect: |all| {
            all.push((T::name().into_owned(), T::schema()));
            T::schemas(all);
        },
    }
}

pub enum Direction {
    /// The client emits it with an ack callback; the ack's `data` on success.
    ClientToServer { ack: Option<Payload> },
    /// The server emits it to the sockets named by `to`.
    ServerToClient { to: &'static str },
}

pub struct Event {
    pub namespace: &'static str,
    pub name: &'static str,
    pub payload: Payload,
    pub direction: Direction,
    pub summary: &'static str,
}

/// What each namespace is for, in the documents.
pub const NAMESPACES: &[(&str, &str)] = &[
    (
        NS_MESSAGING,
        "Conversations the socket joined: sending, typing, receipts, and the rooms' live events.",
    ),
    (
        NS_CALLS,
        "Call signaling between the participants of a call, checked and recorded at core; \
         server events go to every `/calls` socket of the users concerned.",
    ),
    (
        NS_NOTIFICATIONS,
        "Receive-only: what happens in the user's other conversations. Any event \
         the client emits here is acked `BAD_REQUEST`.",
    ),
];

fn client(
    namespace: &'static str,
    name: &'static str,
    payload: Payload,
    ack: Option<Payload>,
    summary: &'static str,
) -> Event {
    Event {
        namespace,
        name,
        payload,
        direction: Direction::ClientToServer { ack },
        summary,
    }
}

fn server(
    namespace: &'static str,
    name: &'static str,
    payload: Payload,
    to: &'static str,
    summary: &'static str,
) -> Event {
    Event {
        namespace,
        name,
        payload,
        direction: Direction::ServerToClient { to },
        summary,
    }
}

/// Every event, in the order the documents list them.
pub fn all() -> Vec<Event> {
    let m = NS_MESSAGING;
    let n = NS_NOTIFICATIONS;
    let k = NS_CALLS;
    vec![
        client(m, c::REFRESH_TOKEN, of::<RefreshToken>(), Some(of::<TokenRefreshed>()),
            "A fresh TMS token for this connection (same user), verified like a CONNECT's; \
             accepted on every namespace. After `token_expired` it is the only event not \
             refused `TOKEN_EXPIRED`."),
        server(m, s::TOKEN_EXPIRED, of::<TokenExpired>(), "the socket, on each connected namespace, once",
            "Its token's `exp` (plus the leeway) passed: events are refused `TOKEN_EXPIRED` until \
             `refresh_token`; without one the socket is closed after `TOKEN_REFRESH_GRACE_SECS`."),
        client(m, c::JOIN_CONVERSATION, of::<ConversationRef>(), Some(of::<ConversationRef>()),
            "Join a conversation's room (members only; at most 24 per socket) to get its live events."),
        client(m, c::LEAVE_CONVERSATION, of::<ConversationRef>(), Some(of::<ConversationRef>()),
            "Leave a conversation's room."),
        client(m, c::SEND_MESSAGE, of::<SendMessage>(), Some(of::<Message>()),
            "Send a message, as `POST /api/v1/messages`; acked once stored. A repeated \
             `client_msg_id` acks the original."),
        client(m, c::TYPING_START, of::<ConversationRef>(), None,
            "Start typing in a joined conversation; the others get `user_typing`."),
        client(m, c::TYPING_STOP, of::<ConversationRef>(), None,
            "Stop typing in a joined conversation."),
        client(m, c::MESSAGE_READ, of::<MessageRef>(), Some(of::<ReceiptView>()),
            "Mark a message read (and delivered); the sender's devices get `message_status`."),
        client(m, c::MESSAGE_DELIVERED, of::<MessageRef>(), Some(of::<ReceiptView>()),
            "Mark a message delivered."),
        server(m, s::NEW_MESSAGE, of::<Message>(), "the room",
            "A new message, in `seq` order (without `reactions`)."),
        server(m, s::MESSAGE_UPDATED, of::<Message>(), "the room", "A message was edited."),
        server(m, s::MESSAGE_DELETED, of::<Message>(), "the room",
            "A message was deleted: its tombstone."),
        server(m, s::MESSAGE_STATUS, of::<MessageStatusChanged>(),
            "the sender's sockets (all devices), never the room",
            "A recipient marked the sender's message delivered or read."),
        server(m, s::USER_TYPING, of::<UserTyping>(), "the room, except the typist",
            "Someone started or stopped typing."),
        server(m, s::USER_ONLINE, of::<PresenceChanged>(),
            "online users who share a DM or a group of at most `PRESENCE_PUSH_MAX_MEMBERS` (100) members with them",
            "A user came online."),
        server(m, s::USER_OFFLINE, of::<PresenceChanged>(),
            "online users who share a DM or a group of at most `PRESENCE_PUSH_MAX_MEMBERS` (100) members with them",
            "A user went offline (after a grace period), with `last_seen_at`."),
        server(m, s::POLL_UPDATED, of::<Poll>(), "the room",
            "A poll's votes or state changed (without `my_votes`); keep the highest `version`."),
        server(m, s::REACTION_ADDED, of::<ReactionChanged>(), "the room",
            "Someone added an emoji; `count` is the emoji's count after the change."),
        server(m, s::REACTION_REMOVED, of::<ReactionChanged>(), "the room",
            "Someone removed an emoji."),
        server(m, s::MEMBER_REMOVED, of::<MemberRemoved>(), "the room",
            "A member left or was removed; their sockets leave the room."),
        server(n, s::NEW_MESSAGE, of::<Message>(),
            "every online member's sockets that have not joined the room",
            "A new message in one of the user's other conversations (lists and badges)."),
        server(n, s::CONVERSATION_UPDATED, of::<Conversation>(), "every member",
            "A conversation was created, renamed, or a member's role changed; it carries `member_count` and at most the first 100 members (page the rest with `GET /conversations/{id}/members`)."),
        server(n, s::MEMBER_ADDED, of::<MembersAdded>(), "every member, the added ones included",
            "Members were added to a group (only the added ids)."),
        server(n, s::MEMBER_REMOVED, of::<MemberRemoved>(),
            "every member, the removed one included",
            "A member left or was removed (only the removed id)."),
        server(n, s::USER_UPDATED, of::<UserUpdated>(),
            "online users who share a conversation with them",
            "A user's TMS profile changed (TMS webhook): refetch it."),
        server(n, s::CONVERSATION_READ, of::<ConversationRead>(), "every socket of the reader",
            "The reader's read mark moved (on any device): `last_read_seq` and `unread_count` \
             of the conversation, as the conversation list has them."),
        server(n, s::SESSION_CLOSED, of::<SessionClosed>(), "every socket of the user",
            "The server ends the session (e.g. the user was deleted in TMS); a DISCONNECT \
             of every namespace follows, so the client does not reconnect."),
        server(n, s::CONVERSATION_SETTINGS_UPDATED, of::<ConversationSettings>(),
            "every socket of the user who changed them",
            "The user changed their settings of a conversation \
             (`PATCH /api/v1/conversations/{id}/settings`), so their other devices follow."),
        client(k, c::CALL_INVITE, of::<InviteCall>(), Some(of::<Call>()),
            "Start a call in a conversation, as `POST /api/v1/conversations/{id}/calls`; \
             `BUSY` when the caller or every callee is in another call."),
        client(k, c::CALL_ACCEPT, of::<CallRef>(), Some(of::<Call>()), "Accept a ringing call."),
        client(k, c::CALL_REJECT, of::<CallRef>(), Some(of::<Call>()), "Reject a ringing call."),
        client(k, c::CALL_LEAVE, of::<CallRef>(), Some(of::<Call>()), "Leave a call."),
        client(k, c::CALL_END, of::<CallRef>(), Some(of::<Call>()), "End a call for everyone."),
        client(k, c::CALL_SIGNAL, of::<SendSignal>(), Some(of::<SignalSent>()),
            "Relay an SDP offer/answer or ICE candidates (payload ≤ 16 KiB) to one participant."),
        server(k, s::CALL_INVITE, of::<CallEvent>(), "every device of the callees being rung",
            "A call rings."),
        server(k, s::CALL_ACCEPT, of::<CallEvent>(), "the call's live participants",
            "Someone accepted."),
        server(k, s::CALL_REJECT, of::<CallEvent>(), "the call's live participants",
            "Someone rejected."),
        server(k, s::CALL_UPDATED, of::<CallEvent>(), "the call's live participants",
            "Someone left, or the ring timed out for those still ringing in an ongoing call."),
        server(k, s::CALL_END, of::<CallEvent>(), "the call's live participants",
            "The call is over (completed, missed or rejected; `end_reason` says why; \
             `user_id` is null when the ring timed out)."),
        server(k, s::CALL_SIGNAL, of::<RelayedSignal>(), "every device of the addressed participant",
            "An SDP offer/answer or ICE candidates from another participant."),
    ]
}
