use shared_types::internal::Membership;
use shared_types::socket::Ack;
use shared_types::ErrorCode;
use uuid::Uuid;

use super::*;
use crate::gateway::index::SocketIndex;
use crate::gateway::session::SessionState;

const CONV: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";

fn conv() -> Uuid {
    Uuid::parse_str(CONV).unwrap()
}

fn member(is_member: bool) -> Result<Membership, Ack> {
    Ok(Membership {
        conversation_id: conv(),
        user_id: "alice".into(),
        is_member,
        removal_epoch: 3,
    })
}

fn ack7() -> Option<AckHandle> {
    Some(AckHandle {
        nsp: "/messaging".into(),
        id: 7,
    })
}

fn joined_frame() -> String {
    format!(r#"43/messaging,7[{{"ok":true,"data":{{"conversation_id":"{CONV}"}}}}]"#)
}

fn error_frame(code: &str, message: &str) -> String {
    format!(r#"43/messaging,7[{{"ok":false,"error":{{"code":"{code}","message":"{message}"}}}}]"#)
}

/// What the glue did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    AskedCore(String),
    Subscribed(Vec<Uuid>),
    Unsubscribed(Vec<Uuid>),
    Sent(Vec<String>),
    Stopped,
}

/// A socket of alice's on a gateway, connected to `/messaging`.
fn socket(index: &mut SocketIndex, id: &str) -> SessionState {
    let mut s = SessionState::new(id, None, 0);
    s.on_authenticated("/messaging", "alice");
    index.upsert(id, &s);
    s
}

/// Runs a join the way the gateway's glue does, over a real session and
/// index, with core's answers and the Room's verdict scripted.
fn run(
    session: &mut SessionState,
    index: &mut SocketIndex,
    answers: Vec<Result<Membership, Ack>>,
    room_takes_it: bool,
    evicted_since: bool,
) -> Vec<Effect> {
    let mut answers = answers.into_iter();
    let mut effects = Vec::new();
    let mut transitions = Default::default();
    let (mut join, mut step) = Join::start(ack7(), conv(), 1_000);
    loop {
        step = match step {
            JoinStep::AskCore => {
                effects.push(Effect::AskedCore(join.membership_path()));
                join.on_membership(answers.next().expect("an answer from core"))
            }
            JoinStep::JoinHere => {
                let frames = session.on_join_confirmed(join.ack(), join.conversation_id());
                session.on_verified(join.conversation_id(), join.removal_epoch());
                transitions = index.upsert(&session.session_id.clone(), session);
                join.on_joined(frames)
            }
            JoinStep::Subscribe => {
                let t: crate::gateway::index::Transitions = std::mem::take(&mut transitions);
                let took = t.subscribe.is_empty() || room_takes_it;
                if !t.subscribe.is_empty() {
                    effects.push(Effect::Subscribed(t.subscribe));
                }
                join.on_subscribed(took, evicted_since)
            }
            JoinStep::Leave => {
                session.on_evicted(join.conversation_id());
                let t = index.upsert(&session.session_id.clone(), session);
                if !t.unsubscribe.is_empty() {
                    effects.push(Effect::Unsubscribed(t.unsubscribe));
                }
                join.on_left()
            }
            JoinStep::Reply(frames) => {
                effects.push(Effect::Sent(frames));
                return effects;
            }
            JoinStep::Stop => {
                effects.push(Effect::Stopped);
                return effects;
            }
        };
    }
}

fn ask() -> Effect {
    Effect::AskedCore(format!("/internal/v1/conversations/{CONV}/membership"))
}

#[test]
fn a_member_joins_after_one_question_to_core_and_subscribes() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    let effects = run(&mut s, &mut index, vec![member(true)], true, false);
    assert_eq!(
        effects,
        [
            ask(),
            Effect::Subscribed(vec![conv()]),
            Effect::Sent(vec![joined_frame()])
        ]
    );
    let origin_requests = effects
        .iter()
        .filter(|e| matches!(e, Effect::AskedCore(_)))
        .count();
    assert_eq!(origin_requests, 1, "a join costs one origin round trip");
    assert!(s.joined.contains(&conv()));
    assert_eq!(index.joined_sockets(&conv()), 1);
}

#[test]
fn a_second_local_socket_joins_without_subscribing_again() {
    let mut index = SocketIndex::default();
    let mut first = socket(&mut index, "s1");
    run(&mut first, &mut index, vec![member(true)], true, false);
    let mut second = socket(&mut index, "s2");
    // the Room is not asked, so its state does not matter
    let effects = run(&mut second, &mut index, vec![member(true)], false, false);
    assert_eq!(effects, [ask(), Effect::Sent(vec![joined_frame()])]);
    assert_eq!(index.joined_sockets(&conv()), 2);
}

#[test]
fn a_non_member_is_refused_and_nothing_changes() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    let effects = run(&mut s, &mut index, vec![member(false)], true, false);
    let forbidden = error_frame("FORBIDDEN", "not a member of this conversation");
    assert_eq!(effects, [ask(), Effect::Sent(vec![forbidden])]);
    assert!(s.joined.is_empty());
    assert_eq!(index.joined_sockets(&conv()), 0);
}

#[test]
fn core_s_error_is_the_ack_when_core_cannot_answer() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    let down = Ack::err(
        ErrorCode::CoreUnavailable,
        "core is unavailable, retry later",
    );
    let effects = run(&mut s, &mut index, vec![Err(down)], true, false);
    let frame = error_frame("CORE_UNAVAILABLE", "core is unavailable, retry later");
    assert_eq!(effects, [ask(), Effect::Sent(vec![frame])]);
    assert!(s.joined.is_empty());
}

/// The race a second question used to close: the user was removed after
/// core's answer; the eviction the gateway or the Room saw since takes the
/// join back.
#[test]
fn an_eviction_since_core_answered_takes_the_join_back() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    let effects = run(&mut s, &mut index, vec![member(true)], true, true);
    let forbidden = error_frame("FORBIDDEN", "not a member of this conversation");
    assert_eq!(
        effects,
        [
            ask(),
            Effect::Subscribed(vec![conv()]),
            Effect::Unsubscribed(vec![conv()]),
            Effect::Sent(vec![forbidden])
        ]
    );
    assert!(s.joined.is_empty());
    assert_eq!(index.joined_sockets(&conv()), 0);
}

#[test]
fn a_room_that_does_not_take_the_subscription_undoes_the_join() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    let effects = run(&mut s, &mut index, vec![member(true)], false, false);
    let unavailable = error_frame(
        "SERVICE_UNAVAILABLE",
        "the conversation's room is unavailable, retry later",
    );
    assert_eq!(
        effects,
        [
            ask(),
            Effect::Subscribed(vec![conv()]),
            Effect::Unsubscribed(vec![conv()]),
            Effect::Sent(vec![unavailable])
        ]
    );
    assert!(s.joined.is_empty());
}

#[test]
fn a_socket_closed_while_core_answered_stops_without_a_reply() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    s.on_close();
    let effects = run(&mut s, &mut index, vec![member(true)], true, false);
    assert_eq!(effects, [ask(), Effect::Stopped]);
    assert_eq!(index.joined_sockets(&conv()), 0);
}

#[test]
fn without_an_ack_the_reply_has_no_frames() {
    let (mut join, _) = Join::start(None, conv(), 0);
    assert_eq!(join.on_membership(member(false)), JoinStep::Reply(vec![]));
}

#[test]
fn a_step_out_of_order_ends_the_join_without_a_reply() {
    let (mut join, _) = Join::start(ack7(), conv(), 0);
    assert_eq!(join.on_left(), JoinStep::Stop);
    assert_eq!(join.on_membership(member(true)), JoinStep::Stop);
}

#[test]
fn evictions_are_remembered_by_time_and_named_by_age() {
    let mut seen = RecentEvictions::default();
    seen.record(conv(), "carol", 5_000);
    assert!(
        seen.since(conv(), "carol", 4_000),
        "a join that asked core before"
    );
    assert!(seen.since(conv(), "carol", 5_000));
    assert!(
        !seen.since(conv(), "carol", 5_001),
        "a join that asked core after"
    );
    assert!(!seen.since(conv(), "dave", 0));
    assert!(
        !seen.since(Uuid::from_u128(9), "carol", 0),
        "per conversation"
    );
    // the Room names them by age: no two objects' clocks are compared
    let answer = seen.ages(5_300);
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].age_ms, 300);
    assert!(
        evicted_in_answer(&answer, "carol", 300),
        "evicted since the join asked"
    );
    assert!(
        !evicted_in_answer(&answer, "carol", 299),
        "evicted before it asked"
    );
    assert!(!evicted_in_answer(&answer, "dave", 10_000));
    // forgotten after EVICTION_MEMORY_MS
    assert!(seen.ages(5_000 + EVICTION_MEMORY_MS).is_empty());
    seen.record(conv(), "dave", 5_000 + EVICTION_MEMORY_MS);
    assert!(!seen.since(conv(), "carol", 0), "pruned on the next record");
}

#[test]
fn a_join_is_verified_at_the_removal_epoch_core_read_with_the_membership() {
    let mut index = SocketIndex::default();
    let mut s = socket(&mut index, "s1");
    run(&mut s, &mut index, vec![member(true)], true, false);
    assert_eq!(s.verified_epoch(&conv()), 3);
    s.on_evicted(conv());
    assert_eq!(s.verified_epoch(&conv()), 0, "forgotten with the join");
    s.on_verified(conv(), 5);
    assert_eq!(s.verified_epoch(&conv()), 0, "kept only while joined");
}
