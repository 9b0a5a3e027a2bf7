//! Joining a socket to a conversation's room (`join_conversation`), as a
//! state machine the glue drives: each call takes what the last step found
//! and returns the next step.
//!
//! The order: ask core (the one origin round trip), join here, subscribe
//! this gateway at the Room if it is its first socket in the room. A removal
//! that commits after core's answer sends its eviction through the Room: if
//! the Room listed this gateway, the gateway saw the eviction (before or
//! after the join here); if not, the Room's answer to the subscription names
//! the users it evicted lately. Both are remembered for
//! `EVICTION_MEMORY_MS` (`RecentEvictions`); a join whose user was evicted
//! since it asked core is taken back. A Room that does not take the
//! subscription also takes the join back: the socket would miss the room's
//! events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared_types::internal::Membership;
use shared_types::socket::Ack;
use shared_types::ErrorCode;
use uuid::Uuid;

use crate::gateway::dispatch::{ack_frames, not_a_member, AckHandle};

/// What the glue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinStep {
    /// Ask core for the user's `Membership` (`Join::membership_path`) and
    /// pass the answer, or core's error as an ack, to `on_membership`.
    AskCore,
    /// Record the join in the socket's attachment
    /// (`SessionState::on_join_confirmed` with `Join::ack`) and pass its
    /// frames (`None`: the socket is gone or closed) to `on_joined`.
    JoinHere,
    /// Act on the index transitions of that change (subscribe at the Room)
    /// and pass whether the Room took them, and whether the user was evicted
    /// from the conversation since `Join::started_at` (`RecentEvictions`, the
    /// gateway's and the Room's answer), to `on_subscribed`.
    Subscribe,
    /// Take the join back (`SessionState::on_evicted`, acting on its
    /// transitions), then call `on_left`.
    Leave,
    /// Send these frames to the socket (none when it asked for no ack); done.
    Reply(Vec<String>),
    /// Nothing more to do: the socket closed meanwhile and its cleanup ran.
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Asking,
    Joining,
    Subscribing,
    Leaving,
    Done,
}

/// One `join_conversation` in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    ack: Option<AckHandle>,
    conversation_id: Uuid,
    stage: Stage,
    /// When the join asked core (ms): an eviction since then takes it back.
    started_at: u64,
    /// The frames confirming the join, sent once the Room took it.
    confirmed: Vec<String>,
    /// Why the join is being taken back.
    refusal: Option<Ack>,
    /// The removal epoch core read with the membership: the socket's join is
    /// verified at it (`delivery::Admission`).
    removal_epoch: i64,
}

/// The ack when the Room did not take this gateway's subscription.
pub fn room_unavailable() -> Ack {
    Ack::err(
        ErrorCode::ServiceUnavailable,
        "the conversation's room is unavailable, retry later",
    )
}

impl Join {
    /// A join the session asked for (`Action::JoinConversation`), and its first step.
    pub fn start(ack: Option<AckHandle>, conversation_id: Uuid, now_ms: u64) -> (Self, JoinStep) {
        let join = Self {
            ack,
            conversation_id,
            stage: Stage::Asking,
            started_at: now_ms,
            confirmed: Vec::new(),
            refusal: None,
            removal_epoch: 0,
        };
        (join, JoinStep::AskCore)
    }

    pub fn ack(&self) -> Option<&AckHandle> {
        self.ack.as_ref()
    }

    pub fn conversation_id(&self) -> Uuid {
        self.conversation_id
    }

    /// The removal epoch core's membership answer carried.
    pub fn removal_epoch(&self) -> i64 {
        self.removal_epoch
    }

    /// When the join asked core.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }

    /// Core's route for the user's membership (the user goes in the signed header).
    pub fn membership_path(&self) -> String {
        format!(
            "/internal/v1/conversations/{}/membership",
            self.conversation_id
        )
    }

    /// Core's answer to `AskCore`: a member, not one, or core's error.
    pub fn on_membership(&mut self, answer: Result<Membership, Ack>) -> JoinStep {
        let refusal = match answer {
            Ok(m) if m.is_member => {
                self.removal_epoch = m.removal_epoch;
                None
            }
            Ok(_) => Some(not_a_member()),
            Err(error) => Some(error),
        };
        match (self.stage, refusal) {
            (Stage::Asking, None) => self.next(Stage::Joining, JoinStep::JoinHere),
            (Stage::Asking, Some(refusal)) => self.reply(&refusal),
            _ => self.out_of_order(),
        }
    }

    /// The attachment's answer to `JoinHere`.
    pub fn on_joined(&mut self, frames: Option<Vec<String>>) -> JoinStep {
        match (self.stage, frames) {
            (Stage::Joining, Some(frames)) => {
                self.confirmed = frames;
                self.next(Stage::Subscribing, JoinStep::Subscribe)
            }
            (Stage::Joining, None) => self.next(Stage::Done, JoinStep::Stop),
            _ => self.out_of_order(),
        }
    }

    /// Whether the Room took the subscription (true when none was needed),
    /// and whether the user was evicted from the conversation since the join
    /// asked core.
    pub fn on_subscribed(&mut self, room_took_it: bool, evicted_since: bool) -> JoinStep {
        match (self.stage, room_took_it, evicted_since) {
            (Stage::Subscribing, _, true) => self.leave(not_a_member()),
            (Stage::Subscribing, true, false) => {
                let frames = std::mem::take(&mut self.confirmed);
                self.next(Stage::Done, JoinStep::Reply(frames))
            }
            (Stage::Subscribing, false, false) => self.leave(room_unavailable()),
            _ => self.out_of_order(),
        }
    }

    /// The join was taken back: the refusal goes to the client.
    pub fn on_left(&mut self) -> JoinStep {
        match (self.stage, self.refusal.take()) {
            (Stage::Leaving, Some(refusal)) => self.reply(&refusal),
            _ => self.out_of_order(),
        }
    }

    fn next(&mut self, stage: Stage, step: JoinStep) -> JoinStep {
        self.stage = stage;
        step
    }

    fn reply(&mut self, response: &Ack) -> JoinStep {
        let frames = ack_frames(self.ack.as_ref(), response);
        self.next(Stage::Done, JoinStep::Reply(frames))
    }

    fn leave(&mut self, refusal: Ack) -> JoinStep {
        self.refusal = Some(refusal);
        self.next(Stage::Leaving, JoinStep::Leave)
    }

    /// A call the current step did not ask for (a glue bug): end the join
    /// without answering rather than answer twice.
    fn out_of_order(&mut self) -> JoinStep {
        self.next(Stage::Done, JoinStep::Stop)
    }
}

/// How long a gateway and a Room remember an eviction: far longer than a
/// join takes (core's and the objects' timeouts are seconds).
pub const EVICTION_MEMORY_MS: u64 = 60_000;
/// Most evictions remembered; beyond, the oldest are forgotten.
pub const MAX_REMEMBERED_EVICTIONS: usize = 1024;

/// A user the Room evicted `age_ms` before it answered a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvictedUser {
    pub conversation_id: Uuid,
    pub user_id: String,
    pub age_ms: u64,
}

/// Evictions seen lately (by a gateway in its deliveries, by a Room in
/// core's events), in memory: a join in progress keeps its objects awake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentEvictions {
    at: BTreeMap<(Uuid, String), u64>,
}

impl RecentEvictions {
    pub fn record(&mut self, conversation_id: Uuid, user_id: &str, now_ms: u64) {
        self.at
            .retain(|_, at| now_ms.saturating_sub(*at) < EVICTION_MEMORY_MS);
        self.at
            .insert((conversation_id, user_id.to_owned()), now_ms);
        while self.at.len() > MAX_REMEMBERED_EVICTIONS {
            let oldest = self
                .at
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone());
            if let Some(key) = oldest {
                self.at.remove(&key);
            }
        }
    }

    /// Whether `user_id` was evicted from the conversation at or after `since_ms`.
    pub fn since(&self, conversation_id: Uuid, user_id: &str, since_ms: u64) -> bool {
        self.at
            .get(&(conversation_id, user_id.to_owned()))
            .is_some_and(|at| *at >= since_ms)
    }

    /// The evictions of the last `EVICTION_MEMORY_MS`, by age (a Room's
    /// answer to a subscription: ages, so no two objects' clocks are compared).
    pub fn ages(&self, now_ms: u64) -> Vec<EvictedUser> {
        self.at
            .iter()
            .map(|((conversation_id, user_id), at)| EvictedUser {
                conversation_id: *conversation_id,
                user_id: user_id.clone(),
                age_ms: now_ms.saturating_sub(*at),
            })
            .filter(|e| e.age_ms < EVICTION_MEMORY_MS)
            .collect()
    }
}

/// Whether a Room's answer names `user_id` as evicted since the join asked
/// core: `elapsed_ms` ago on the gateway's clock. An eviction after the
/// question is at most `elapsed_ms` old when the answer arrives.
pub fn evicted_in_answer(answer: &[EvictedUser], user_id: &str, elapsed_ms: u64) -> bool {
    answer
        .iter()
        .any(|e| e.user_id == user_id && e.age_ms <= elapsed_ms)
}

#[cfg(test)]
mod tests;
