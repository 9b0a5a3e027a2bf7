use chrono::{Duration, TimeZone};
use shared_types::calls::CallMedia;

use super::*;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A ringing call from user 1 ("u1") to the others, started at t(0).
fn ringing(callees: &[u128]) -> CallRecord {
    let mut participants = vec![Participant {
        user_id: id(1),
        tms_user_id: "u1".into(),
        status: P::Joined,
        joined_at: Some(t(0)),
        left_at: None,
    }];
    for n in callees {
        participants.push(Participant {
            user_id: id(*n),
            tms_user_id: format!("u{n}"),
            status: P::Ringing,
            joined_at: None,
            left_at: None,
        });
    }
    CallRecord {
        id: id(100),
        conversation_id: id(200),
        initiator_user_id: id(1),
        initiator_id: "u1".into(),
        media: CallMedia::Voice,
        status: CallStatus::Ringing,
        started_at: t(0),
        answered_at: None,
        ended_at: None,
        end_reason: None,
        ring_deadline: Some(t(45)),
        participants,
    }
}

fn status_of(call: &CallRecord, n: u128) -> P {
    call.participants
        .iter()
        .find(|p| p.user_id == id(n))
        .unwrap()
        .status
}

#[test]
fn a_dm_answered_then_ended_is_completed_with_its_duration() {
    let mut call = ringing(&[2]);
    let accepted = apply(&mut call, id(2), Act::Accept, t(5)).unwrap();
    assert_eq!(accepted.events, [server_events::CALL_ACCEPT]);
    assert_eq!(accepted.audience, ["u1", "u2"]);
    assert_eq!(call.status, CallStatus::Ongoing);
    assert_eq!(call.answered_at, Some(t(5)));
    assert_eq!(call.ring_deadline, None, "nobody rings any more");

    let ended = apply(&mut call, id(1), Act::End, t(65)).unwrap();
    assert_eq!(ended.events, [server_events::CALL_END]);
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.end_reason, Some(EndReason::Hangup));
    assert_eq!(
        (status_of(&call, 1), status_of(&call, 2)),
        (P::Left, P::Left)
    );
    assert_eq!(call.to_wire().duration_secs, Some(60));
    // again: nothing changes, nothing is announced
    assert_eq!(
        apply(&mut call, id(2), Act::End, t(70)),
        Ok(Outcome::default())
    );
    assert_eq!(call.ended_at, Some(t(65)));
}

#[test]
fn a_rejected_dm_ends_rejected() {
    let mut call = ringing(&[2]);
    let out = apply(&mut call, id(2), Act::Reject, t(3)).unwrap();
    assert_eq!(
        out.events,
        [server_events::CALL_REJECT, server_events::CALL_END]
    );
    assert_eq!(
        out.audience,
        ["u1", "u2"],
        "the rejecter's other devices stop ringing"
    );
    assert_eq!(call.status, CallStatus::Rejected);
    assert_eq!(call.end_reason, Some(EndReason::Rejected));
    assert_eq!(status_of(&call, 1), P::Left);
    assert_eq!(call.to_wire().duration_secs, None);
    assert_eq!(call.ring_deadline, None);
    assert_eq!(
        apply(&mut call, id(2), Act::Reject, t(4)),
        Ok(Outcome::default())
    );
    assert_eq!(
        apply(&mut call, id(2), Act::Accept, t(4)),
        Err(Refusal::Conflict("the call has ended"))
    );
}

#[test]
fn a_busy_callee_counts_as_refusing() {
    let mut call = ringing(&[2, 3]);
    call.participants[2].status = P::Busy;
    apply(&mut call, id(2), Act::Reject, t(3)).unwrap();
    assert_eq!(call.status, CallStatus::Rejected);
}

#[test]
fn the_ring_times_out_into_a_missed_call() {
    let mut call = ringing(&[2, 3]);
    apply(&mut call, id(2), Act::Reject, t(3)).unwrap();
    assert_eq!(call.status, CallStatus::Ringing, "u3 still rings");
    assert_eq!(expire(&mut call, t(44)), Outcome::default(), "not yet");
    let out = expire(&mut call, t(45));
    assert_eq!(out.events, [server_events::CALL_END]);
    assert_eq!(out.audience, ["u1", "u3"]);
    assert_eq!(call.status, CallStatus::Missed);
    assert_eq!(call.end_reason, Some(EndReason::Timeout));
    assert_eq!(
        (status_of(&call, 2), status_of(&call, 3)),
        (P::Rejected, P::Missed)
    );
    assert_eq!(call.ended_at, Some(t(45)));
    assert_eq!(expire(&mut call, t(90)), Outcome::default(), "once");
}

#[test]
fn in_an_answered_group_call_the_timeout_only_stops_the_ringing() {
    let mut call = ringing(&[2, 3]);
    apply(&mut call, id(2), Act::Accept, t(5)).unwrap();
    assert_eq!(call.ring_deadline, Some(t(45)), "u3 still rings");
    let out = expire(&mut call, t(46));
    assert_eq!(out.events, [server_events::CALL_UPDATED]);
    assert_eq!(out.audience, ["u1", "u2", "u3"], "u3 hears it missed");
    assert_eq!(call.status, CallStatus::Ongoing);
    assert_eq!(status_of(&call, 3), P::Missed);
    assert_eq!(call.ring_deadline, None);
    assert_eq!(
        apply(&mut call, id(3), Act::Accept, t(47)),
        Err(Refusal::Conflict("you are not ringing in this call"))
    );
}

#[test]
fn leaving_ends_the_call_when_one_is_left_alone() {
    let mut call = ringing(&[2, 3]);
    apply(&mut call, id(2), Act::Accept, t(5)).unwrap();
    apply(&mut call, id(3), Act::Accept, t(6)).unwrap();
    let first = apply(&mut call, id(1), Act::Leave, t(10)).unwrap();
    assert_eq!(first.events, [server_events::CALL_UPDATED]);
    assert_eq!(first.audience, ["u1", "u2", "u3"]);
    assert_eq!(call.status, CallStatus::Ongoing, "u2 and u3 still talk");
    let second = apply(&mut call, id(2), Act::Leave, t(20)).unwrap();
    assert_eq!(
        second.events,
        [server_events::CALL_UPDATED, server_events::CALL_END]
    );
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.end_reason, Some(EndReason::Left));
    assert_eq!(status_of(&call, 3), P::Left);
    assert_eq!(call.participants[2].left_at, Some(t(20)));
    assert_eq!(
        apply(&mut call, id(2), Act::Leave, t(21)),
        Ok(Outcome::default())
    );
}

#[test]
fn a_caller_who_hangs_up_first_leaves_a_missed_call() {
    let mut call = ringing(&[2, 3]);
    let out = apply(&mut call, id(1), Act::End, t(8)).unwrap();
    assert_eq!(out.events, [server_events::CALL_END]);
    assert_eq!(out.audience, ["u1", "u2", "u3"]);
    assert_eq!(call.status, CallStatus::Missed);
    assert_eq!(call.end_reason, Some(EndReason::Hangup));
    assert_eq!(
        (status_of(&call, 2), status_of(&call, 3)),
        (P::Missed, P::Missed)
    );
}

#[test]
fn acts_out_of_turn_are_refused_and_change_nothing() {
    let mut call = ringing(&[2]);
    let before = call.clone();
    assert_eq!(
        apply(&mut call, id(9), Act::Accept, t(1)),
        Err(Refusal::NotParticipant)
    );
    assert!(matches!(
        apply(&mut call, id(1), Act::Reject, t(1)),
        Err(Refusal::Conflict(_))
    ));
    assert!(matches!(
        apply(&mut call, id(2), Act::End, t(1)),
        Err(Refusal::Conflict(_))
    ));
    assert!(matches!(
        apply(&mut call, id(2), Act::Leave, t(1)),
        Err(Refusal::Conflict(_))
    ));
    assert_eq!(
        apply(&mut call, id(1), Act::Accept, t(1)),
        Ok(Outcome::default()),
        "the caller is in already"
    );
    assert_eq!(call, before);
    // a second accept of the same user changes nothing
    apply(&mut call, id(2), Act::Accept, t(2)).unwrap();
    let answered = call.clone();
    assert_eq!(
        apply(&mut call, id(2), Act::Accept, t(3) + Duration::seconds(1)),
        Ok(Outcome::default())
    );
    assert_eq!(call, answered);
}
