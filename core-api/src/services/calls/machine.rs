//! A call's rules, as transitions of a `CallRecord` in memory. The service
//! applies them under the call's row lock and writes the result back, so two
//! requests (two accepts, an accept and an end, the sweeper) see each other's
//! outcome, never a half. Pure: the tests need no database.
//!
//! - The caller is `joined` from the start; callees ring until they accept,
//!   reject, or the ring times out (`missed`).
//! - The first accept makes the call `ongoing`.
//! - A call ends when a joined participant ends it (for everyone), or when
//!   nobody is left joined, or one is with nobody ringing. Then joined
//!   participants have `left` and ringing ones `missed`; the call is
//!   `completed` if it was answered, `rejected` if every callee rejected
//!   (or was busy), else `missed`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use shared_types::calls::{CallStatus, EndReason, ParticipantStatus as P};
use shared_types::socket::server_events;
use uuid::Uuid;

use crate::models::call::{CallRecord, Participant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Accept,
    Reject,
    Leave,
    End,
}

/// Why an act is refused; nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user is not a participant of the call (403).
    NotParticipant,
    /// The call's or the user's state does not allow it (409).
    Conflict(&'static str),
}

/// What a transition changed and whom to tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Server events to send, in order; empty when nothing changed.
    pub events: Vec<&'static str>,
    /// TMS ids of the participants who were ringing or joined, before or after.
    pub audience: Vec<String>,
}

impl Outcome {
    pub fn changed(&self) -> bool {
        !self.events.is_empty()
    }
}

/// `user`'s `act` at `now`.
pub fn apply(
    call: &mut CallRecord,
    user: Uuid,
    act: Act,
    now: DateTime<Utc>,
) -> Result<Outcome, Refusal> {
    let index = call
        .participants
        .iter()
        .position(|p| p.user_id == user)
        .ok_or(Refusal::NotParticipant)?;
    let before = live(call);
    let status = call.participants[index].status;
    let mut events = Vec::new();
    match act {
        Act::Accept => {
            if !call.status.is_live() {
                return Err(Refusal::Conflict("the call has ended"));
            }
            match status {
                P::Joined => return Ok(Outcome::default()),
                P::Ringing => {}
                _ => return Err(Refusal::Conflict("you are not ringing in this call")),
            }
            let p = &mut call.participants[index];
            p.status = P::Joined;
            p.joined_at = Some(now);
            if call.status == CallStatus::Ringing {
                call.status = CallStatus::Ongoing;
                call.answered_at = Some(now);
            }
            events.push(server_events::CALL_ACCEPT);
        }
        Act::Reject => {
            match status {
                P::Rejected => return Ok(Outcome::default()),
                _ if !call.status.is_live() => return Err(Refusal::Conflict("the call has ended")),
                P::Ringing => {}
                P::Joined => {
                    return Err(Refusal::Conflict(
                        "you are in the call: leave or end it instead",
                    ))
                }
                _ => return Err(Refusal::Conflict("you are not ringing in this call")),
            }
            call.participants[index].status = P::Rejected;
            events.push(server_events::CALL_REJECT);
        }
        Act::Leave => match status {
            // nothing to leave: asking again, or after the end, changes nothing
            s if !s.is_live() => return Ok(Outcome::default()),
            P::Ringing => {
                return Err(Refusal::Conflict(
                    "you have not joined the call: reject it instead",
                ))
            }
            _ => {
                let p = &mut call.participants[index];
                p.status = P::Left;
                p.left_at = Some(now);
                events.push(server_events::CALL_UPDATED);
            }
        },
        Act::End => {
            if !call.status.is_live() {
                return Ok(Outcome::default()); // ending an ended call changes nothing
            }
            match status {
                P::Joined => {}
                P::Ringing => {
                    return Err(Refusal::Conflict(
                        "you have not joined the call: reject it instead",
                    ))
                }
                _ => return Err(Refusal::Conflict("you are no longer in this call")),
            }
            finish(call, now, EndReason::Hangup);
            events.push(server_events::CALL_END);
        }
    }
    if act != Act::End && settle(call, now, cause_of(act)) {
        events.push(server_events::CALL_END);
    }
    Ok(outcome(call, before, events))
}

/// The ring timed out at `now` (if its deadline has passed): whoever is
/// still ringing missed it, and the call ends if that leaves it empty.
pub fn expire(call: &mut CallRecord, now: DateTime<Utc>) -> Outcome {
    if call.ring_deadline.is_none_or(|d| d > now) {
        return Outcome::default();
    }
    let before = live(call);
    for p in call
        .participants
        .iter_mut()
        .filter(|p| p.status == P::Ringing)
    {
        p.status = P::Missed;
    }
    call.ring_deadline = None;
    let event = if settle(call, now, EndReason::Timeout) {
        server_events::CALL_END
    } else {
        server_events::CALL_UPDATED
    };
    outcome(call, before, vec![event])
}

fn cause_of(act: Act) -> EndReason {
    match act {
        Act::Reject => EndReason::Rejected,
        Act::End => EndReason::Hangup,
        Act::Accept | Act::Leave => EndReason::Left,
    }
}

/// Ends a live call that nobody can talk in any more. Returns whether it ended.
fn settle(call: &mut CallRecord, now: DateTime<Utc>, cause: EndReason) -> bool {
    if !call.status.is_live() {
        return false;
    }
    let count = |s: P| call.participants.iter().filter(|p| p.status == s).count();
    let (joined, ringing) = (count(P::Joined), count(P::Ringing));
    if ringing == 0 {
        call.ring_deadline = None;
    }
    if joined == 0 || (joined == 1 && ringing == 0) {
        finish(call, now, cause);
        return true;
    }
    false
}

fn finish(call: &mut CallRecord, now: DateTime<Utc>, cause: EndReason) {
    for p in &mut call.participants {
        match p.status {
            P::Joined => {
                p.status = P::Left;
                p.left_at = Some(now);
            }
            P::Ringing => p.status = P::Missed,
            _ => {}
        }
    }
    let caller = call.initiator_user_id;
    let callees = || call.participants.iter().filter(|p| p.user_id != caller);
    let all_refused = callees().all(|p| matches!(p.status, P::Rejected | P::Busy))
        && callees().any(|p| p.status == P::Rejected);
    let (status, reason) = if call.answered_at.is_some() {
        let reason = if cause == EndReason::Hangup {
            EndReason::Hangup
        } else {
            EndReason::Left
        };
        (CallStatus::Completed, reason)
    } else if all_refused {
        (CallStatus::Rejected, EndReason::Rejected)
    } else {
        (CallStatus::Missed, cause)
    };
    call.status = status;
    call.end_reason = Some(reason);
    call.ended_at = Some(now);
    call.ring_deadline = None;
}

fn live(call: &CallRecord) -> BTreeSet<String> {
    call.participants
        .iter()
        .filter(|p| p.status.is_live())
        .map(|p: &Participant| p.tms_user_id.clone())
        .collect()
}

fn outcome(
    call: &CallRecord,
    mut audience: BTreeSet<String>,
    events: Vec<&'static str>,
) -> Outcome {
    audience.extend(live(call));
    Outcome {
        events,
        audience: audience.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests;
