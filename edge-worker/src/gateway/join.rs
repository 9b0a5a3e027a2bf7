//! Joining a socket to a conversation's room (`join_conversation`), as a
//! state machine the glue drives: each call takes what the last step found
//! and returns the next step.
//!
//! The order: ask core, join here (subscribing this gateway at the Room if
//! it is its first socket in the room), then ask core again. A removal that
//! commits between the first answer and the join sends its eviction to a
//! Room that may not list this gateway yet, so only the second answer (core
//! invalidates before it fans out) catches it; the join is then taken back.
//! A Room that does not take the subscription also takes the join back: the
//! socket would miss the room's events.

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
    /// and pass whether the Room took them to `on_subscribed`.
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
    FirstAnswer,
    Joining,
    Subscribing,
    SecondAnswer,
    Leaving,
    Done,
}

/// One `join_conversation` in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    ack: Option<AckHandle>,
    conversation_id: Uuid,
    stage: Stage,
    /// The frames confirming the join, sent once core confirmed it twice.
    confirmed: Vec<String>,
    /// Why the join is being taken back.
    refusal: Option<Ack>,
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
    pub fn start(ack: Option<AckHandle>, conversation_id: Uuid) -> (Self, JoinStep) {
        let join = Self {
            ack,
            conversation_id,
            stage: Stage::FirstAnswer,
            confirmed: Vec::new(),
            refusal: None,
        };
        (join, JoinStep::AskCore)
    }

    pub fn ack(&self) -> Option<&AckHandle> {
        self.ack.as_ref()
    }

    pub fn conversation_id(&self) -> Uuid {
        self.conversation_id
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
            Ok(m) if m.is_member => None,
            Ok(_) => Some(not_a_member()),
            Err(error) => Some(error),
        };
        match (self.stage, refusal) {
            (Stage::FirstAnswer, None) => self.next(Stage::Joining, JoinStep::JoinHere),
            (Stage::FirstAnswer, Some(refusal)) => self.reply(&refusal),
            (Stage::SecondAnswer, None) => {
                let frames = std::mem::take(&mut self.confirmed);
                self.next(Stage::Done, JoinStep::Reply(frames))
            }
            (Stage::SecondAnswer, Some(refusal)) => self.leave(refusal),
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

    /// Whether the Room took the subscription (true when none was needed).
    pub fn on_subscribed(&mut self, room_took_it: bool) -> JoinStep {
        match (self.stage, room_took_it) {
            (Stage::Subscribing, true) => self.next(Stage::SecondAnswer, JoinStep::AskCore),
            (Stage::Subscribing, false) => self.leave(room_unavailable()),
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

#[cfg(test)]
mod tests;
