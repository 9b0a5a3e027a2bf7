//! What travels through the lanes: a push (an event and who is left to
//! resolve), the lanes' counters, and the question they ask the services.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

use futures_util::future::BoxFuture;
use shared_types::internal::{FanoutEvent, FanoutTarget, NotifyGateway};
use uuid::Uuid;

use crate::error::AppResult;

/// One event on its way, with what is left to resolve at send time.
#[derive(Debug, Clone)]
pub struct Push {
    pub(super) key: String,
    pub(super) event: FanoutEvent,
    pub(super) resolve: Resolve,
}

#[derive(Debug, Clone)]
pub(super) enum Resolve {
    Nothing,
    /// `notify` = the gateways registered in the conversation's notify set
    /// (never its members: one read of O(gateways) per conversation).
    NotifyMembers(Uuid),
    /// `Gateways` target = these users' gateways; dropped if none is online.
    Users(Vec<String>),
    /// `Members` target = the conversation's notify set as it is when the
    /// lane sends (each gateway decides which of its users are members),
    /// and the gateways of `also` from presence.
    Members {
        conversation_id: Uuid,
        also: Vec<String>,
    },
}

impl Push {
    /// To the conversation's Room (sockets joined to it).
    pub fn to_conversation(
        conversation_id: Uuid,
        namespace: &str,
        event: &str,
        data: serde_json::Value,
        seq: Option<i64>,
    ) -> Self {
        Self {
            key: conversation_id.to_string(),
            event: FanoutEvent {
                target: FanoutTarget::Conversation {
                    conversation_id,
                    notify: Vec::new(),
                },
                namespace: namespace.to_string(),
                event: event.to_string(),
                data,
                seq,
                after_seq: None,
                evict_user_id: None,
                removal_epoch: None,
                close_sessions: false,
            },
            resolve: Resolve::Nothing,
        }
    }

    /// Also to the members' other online sockets (on `/notifications` at the edge).
    pub fn notifying_members(mut self) -> Self {
        if let FanoutTarget::Conversation {
            conversation_id, ..
        } = &self.event.target
        {
            self.resolve = Resolve::NotifyMembers(*conversation_id);
        }
        self
    }

    /// An event about the message numbered `seq`: the Room delivers it only
    /// after that message (see `FanoutEvent::after_seq`).
    pub fn after(mut self, seq: i64) -> Self {
        self.event.after_seq = Some(seq);
        self
    }

    /// Once delivered, the Room drops `user_id`'s sockets.
    pub fn evicting(mut self, user_id: &str) -> Self {
        self.event.evict_user_id = Some(user_id.to_string());
        self
    }

    /// The removal epoch the event was made under, when the caller knows it;
    /// else the lane stamps the conversation's current one as it sends.
    pub fn at_epoch(mut self, removal_epoch: Option<i64>) -> Self {
        self.event.removal_epoch = removal_epoch;
        self
    }

    /// Once delivered, the gateways disconnect every socket of the target users.
    pub fn closing_sessions(mut self) -> Self {
        self.event.close_sessions = true;
        self
    }

    /// To every socket of `users`. `key` picks the lane: the conversation the
    /// event is about, so it stays in order with that conversation's events,
    /// else the user it is about.
    pub fn to_users(
        key: String,
        users: Vec<String>,
        namespace: &str,
        event: &str,
        data: serde_json::Value,
    ) -> Self {
        Self {
            key,
            event: FanoutEvent {
                target: FanoutTarget::Gateways {
                    gateways: Vec::new(),
                },
                namespace: namespace.to_string(),
                event: event.to_string(),
                data,
                seq: None,
                after_seq: None,
                evict_user_id: None,
                removal_epoch: None,
                close_sessions: false,
            },
            resolve: Resolve::Users(users),
        }
    }
}

impl Push {
    /// To every socket of the conversation's members, resolved when the lane
    /// sends; on the conversation's lane, in order with its room events.
    pub fn to_members(
        conversation_id: Uuid,
        namespace: &str,
        event: &str,
        data: serde_json::Value,
    ) -> Self {
        let mut push = Self::to_users(
            conversation_id.to_string(),
            Vec::new(),
            namespace,
            event,
            data,
        );
        push.resolve = Resolve::Members {
            conversation_id,
            also: Vec::new(),
        };
        push
    }

    /// Also to `user` (e.g. a member just removed, who hears of it too).
    pub fn also_to(mut self, user: &str) -> Self {
        if let Resolve::Members { also, .. } = &mut self.resolve {
            also.push(user.to_owned());
        }
        self
    }
}

/// Counters, for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Refused because the lane's queue was full (or shutting down).
    pub dropped: AtomicU64,
    /// Events whose user part was dropped because presence could not be read.
    pub unresolved: AtomicU64,
    pub batches_sent: AtomicU64,
    pub events_sent: AtomicU64,
    /// Batches given up after every attempt (or refused with a 4xx).
    pub batches_failed: AtomicU64,
    /// The events of those batches.
    pub events_failed: AtomicU64,
}

/// Who hears an event, asked by a lane just before it sends. The services
/// answer it (membership and presence); the lanes only carry events.
pub trait Targets: Send + Sync {
    /// The gateways holding each of `users` now (users with none are absent).
    fn gateways_of<'a>(
        &'a self,
        users: &'a [String],
        now_ms: i64,
    ) -> BoxFuture<'a, AppResult<HashMap<String, Vec<String>>>>;
    /// Each conversation's registered gateways (`FanoutTarget::Conversation::notify`).
    fn notify_gateways<'a>(
        &'a self,
        conversation_ids: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<HashMap<Uuid, Vec<NotifyGateway>>>>;
    /// The conversations' removal epochs now (`FanoutEvent::removal_epoch`).
    fn removal_epochs<'a>(
        &'a self,
        conversation_ids: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<HashMap<Uuid, i64>>>;
}
