use super::*;
use uuid::Uuid;

const MSG: &str = "/messaging";
const NOTE: &str = "/notifications";

fn config() -> RecoveryConfig {
    RecoveryConfig {
        window_ms: 1_000,
        buffer_frames: 100,
        buffer_bytes: 1 << 20,
        max_parked: 2,
    }
}

fn session(sid: &str, user: &str, namespaces: &[&str]) -> SessionState {
    let mut s = SessionState::new(sid, None, 0);
    s.tms_user_id = Some(user.into());
    for n in namespaces {
        s.namespaces.insert(n);
    }
    s
}

fn event(nsp: &str, n: u32) -> String {
    format!("42{nsp},[\"e\",{{\"n\":{n}}}]")
}

/// Writes one frame to these sessions, as the delivery glue does.
fn deliver(r: &mut Recovery, frame: &str, to: &[&str]) -> Rc<str> {
    let (offset, stamped) = r.stamp(frame).expect("an event");
    for sid in to {
        r.record(sid, offset);
    }
    stamped
}

#[allow(clippy::too_many_arguments)]
fn resume(
    r: &mut Recovery,
    pid: &str,
    user: &str,
    namespace: &str,
    offset: Option<&str>,
    now: u64,
    to: Option<&str>,
    keep: bool,
) -> Resume {
    let ask = RecoverAsk {
        pid: pid.into(),
        user: user.into(),
        namespace: namespace.into(),
        offset: offset.map(str::to_owned),
        to: to.unwrap_or("here").into(),
        keep,
    };
    r.resume(&ask, now, to.is_some())
}

fn frames(resume: Resume) -> Vec<String> {
    match resume {
        Resume::Frames(r) => r.frames.iter().map(|f| unstamp(f)).collect(),
        other => panic!("not recovered: {other:?}"),
    }
}

#[test]
fn only_plain_events_are_stamped_and_the_offset_is_the_last_argument() {
    assert_eq!(
        stamp("42/messaging,[\"new_message\",{}]", "a-7").as_deref(),
        Some("42/messaging,[\"new_message\",{},\"a-7\"]")
    );
    assert_eq!(
        stamp("42[\"x\"]", "a-1").as_deref(),
        Some("42[\"x\",\"a-1\"]")
    );
    assert_eq!(stamp("43/messaging,3[{}]", "a-1"), None, "an ack");
    assert_eq!(
        stamp("42/messaging,5[\"x\"]", "a-1"),
        None,
        "an event asking for an ack"
    );
    assert_eq!(stamp("41/messaging,", "a-1"), None);
    assert_eq!(stamp("40/messaging,{\"sid\":\"s\"}", "a-1"), None);
    let stamped = stamp(&event(MSG, 1), "a-12").unwrap();
    assert_eq!(unstamp(&stamped), event(MSG, 1));
    assert_eq!(namespace_of(&stamped), MSG);
    assert_eq!(namespace_of("42[\"x\"]"), "/");
}

#[test]
fn a_parked_socket_gets_what_it_missed_of_each_namespace_once_in_order() {
    let mut r = Recovery::new("i", config());
    r.track("s1", "P");
    r.track("s2", "Q");
    let first = deliver(&mut r, &event(MSG, 1), &["s1", "s2"]);
    deliver(&mut r, &event(MSG, 2), &["s1"]); // in flight when the socket died
    assert!(r
        .park(&session("s1", "alice", &[MSG, NOTE]), 0)
        .unwrap()
        .is_empty());
    assert!(r.is_parked("s1"));
    deliver(&mut r, &event(NOTE, 3), &["s1"]);
    deliver(&mut r, &event(MSG, 4), &["s2"]); // not addressed to s1
    deliver(&mut r, &event(MSG, 5), &["s1", "s2"]);

    let last_seen = first.rsplit('"').nth(1).unwrap().to_owned();
    assert_eq!(last_seen, "i-1");
    let msg = resume(&mut r, "P", "alice", MSG, Some(&last_seen), 10, None, false);
    assert!(matches!(&msg, Resume::Frames(m) if !m.done && m.joined.is_some()));
    assert_eq!(frames(msg), [event(MSG, 2), event(MSG, 5)]);
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, Some(&last_seen), 10, None, false),
        Resume::Lost("namespace not parked"),
        "once"
    );
    // the other namespace had received nothing: all of its frames
    let note = resume(&mut r, "P", "alice", NOTE, None, 10, None, false);
    assert!(matches!(&note, Resume::Frames(m) if m.done && m.joined.is_none()));
    assert_eq!(frames(note), [event(NOTE, 3)]);
    assert!(!r.is_tracked("s1") && r.parked_count() == 0);
}

#[test]
fn another_user_a_passed_window_or_an_unknown_pid_is_not_recovered() {
    let mut r = Recovery::new("i", config());
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG]), 0);
    assert_eq!(
        resume(&mut r, "P", "bob", MSG, None, 10, None, false),
        Resume::Lost("another user")
    );
    assert_eq!(
        resume(&mut r, "X", "alice", MSG, None, 10, None, false),
        Resume::Lost("unknown session")
    );
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, None, 1_000, None, false),
        Resume::Lost("window passed")
    );
    assert_eq!(r.next_alarm(0), Some(1_000));
    assert_eq!(r.next_alarm(900), Some(1_000));
    assert_eq!(r.expire(1_000), ["s1"]);
    assert_eq!(r.next_alarm(1_000), None);
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, None, 10, None, false),
        Resume::Lost("unknown session")
    );
}

#[test]
fn the_alarm_keeps_a_gateway_with_parked_sessions_awake() {
    let mut r = Recovery::new(
        "i",
        RecoveryConfig {
            window_ms: 120_000,
            ..config()
        },
    );
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG]), 0);
    assert_eq!(r.next_alarm(0), Some(KEEP_AWAKE_MS));
}

#[test]
fn a_socket_without_namespaces_or_pid_is_not_parked() {
    let mut r = Recovery::new("i", config());
    assert!(
        r.park(&session("s1", "alice", &[MSG]), 0).is_none(),
        "no pid"
    );
    r.track("s1", "P");
    assert!(
        r.park(&session("s1", "alice", &[]), 0).is_none(),
        "disconnected explicitly"
    );
    let mut off = Recovery::new(
        "i",
        RecoveryConfig {
            window_ms: 0,
            ..config()
        },
    );
    off.track("s1", "P");
    assert!(!off.is_tracked("s1"), "0 disables recovery");
}

#[test]
fn frames_evicted_from_the_buffer_make_the_session_lost() {
    let mut r = Recovery::new(
        "i",
        RecoveryConfig {
            buffer_frames: 3,
            ..config()
        },
    );
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG]), 0);
    for n in 1..=5 {
        deliver(&mut r, &event(MSG, n), &["s1"]);
    }
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, Some("i-1"), 10, None, false),
        Resume::Lost("frames evicted from the buffer")
    );
    // a client that had everything up to what is still held recovers
    assert_eq!(
        frames(resume(
            &mut r,
            "P",
            "alice",
            MSG,
            Some("i-2"),
            10,
            None,
            false
        )),
        [3, 4, 5].map(|n| event(MSG, n))
    );
}

#[test]
fn the_byte_bound_evicts_the_oldest_frames() {
    let mut r = Recovery::new(
        "i",
        RecoveryConfig {
            buffer_bytes: 60,
            ..config()
        },
    );
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG]), 0);
    for n in 1..=4 {
        deliver(&mut r, &event(MSG, n), &["s1"]);
    }
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, None, 10, None, false),
        Resume::Lost("frames evicted from the buffer")
    );
}

#[test]
fn an_offset_of_another_life_of_the_gateway_means_nothing_of_this_one_was_received() {
    let mut r = Recovery::new("new", config());
    r.track("s1", "P");
    deliver(&mut r, &event(MSG, 1), &["s1"]);
    r.park(&session("s1", "alice", &[MSG]), 0);
    assert_eq!(
        frames(resume(
            &mut r,
            "P",
            "alice",
            MSG,
            Some("old-99"),
            10,
            None,
            false
        )),
        [event(MSG, 1)]
    );
}

#[test]
fn parked_sessions_are_bounded_the_soonest_to_expire_dropped_first() {
    let mut r = Recovery::new("i", config());
    for (n, sid) in ["s1", "s2", "s3"].iter().enumerate() {
        r.track(sid, &format!("P{n}"));
        let dropped = r.park(&session(sid, "alice", &[MSG]), n as u64).unwrap();
        assert_eq!(
            dropped,
            if n == 2 {
                vec!["s1".to_owned()]
            } else {
                vec![]
            }
        );
    }
    assert_eq!(r.parked_count(), 2);
    assert!(!r.is_tracked("s1"));
}

#[test]
fn a_session_recovered_elsewhere_is_forwarded_there() {
    let mut r = Recovery::new("i", config());
    r.track("s1", "P");
    let mut s = session("s1", "alice", &[MSG]);
    s.joined.insert(Uuid::from_u128(1));
    r.park(&s, 0);
    deliver(&mut r, &event(MSG, 1), &["s1"]);
    let taken = resume(&mut r, "P", "alice", MSG, None, 10, Some("gw.b"), false);
    let answer = RecoverAnswer::of(&taken);
    assert_eq!(
        answer.frames,
        [event(MSG, 1)],
        "sent without this gateway's offsets"
    );
    assert!(answer.joined.unwrap().contains(&Uuid::from_u128(1)));
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, None, 20, None, false),
        Resume::Moved("gw.b".into())
    );
    r.expire(1_000);
    assert_eq!(
        resume(&mut r, "P", "alice", MSG, None, 20, None, false),
        Resume::Lost("unknown session")
    );
}

#[test]
fn a_stamped_frame_names_its_offset_and_logs_stay_in_order() {
    let mut r = Recovery::new("ab", config());
    r.track("s1", "P");
    let (offset, stamped) = r.stamp(&event(MSG, 1)).unwrap();
    assert_eq!(offset_in(&stamped), Some(offset));
    assert_eq!(offset_in(&event(MSG, 1)), None);
    let (later, _) = r.stamp(&event(MSG, 2)).unwrap();
    r.record("s1", later);
    r.record("s1", offset); // a replayed frame, logged after a live one
    r.record("s1", offset);
    r.park(&session("s1", "alice", &[MSG]), 0);
    assert_eq!(
        frames(resume(&mut r, "P", "alice", MSG, None, 1, None, false)),
        [event(MSG, 1), event(MSG, 2)]
    );
}

#[test]
fn closing_the_recovered_socket_leaves_another_parked_one_alone() {
    let mut r = Recovery::new("i", config());
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG, NOTE]), 0);
    assert!(matches!(
        resume(&mut r, "P", "alice", MSG, None, 1, None, false),
        Resume::Frames(_)
    ));
    r.track("s2", "P");
    r.forget("s2");
    assert!(r.is_parked("s1"), "its /notifications may still come back");
}

#[test]
fn a_session_that_comes_back_to_a_gateway_it_left_is_not_forwarded_away() {
    let mut r = Recovery::new("i", config());
    r.track("s1", "P");
    r.park(&session("s1", "alice", &[MSG]), 0);
    assert!(matches!(
        resume(&mut r, "P", "alice", MSG, None, 1, Some("gw.b"), false),
        Resume::Frames(_)
    ));
    // later it recovers from gw.b onto this gateway again, and drops here
    r.track("s9", "P");
    r.park(&session("s9", "alice", &[MSG]), 2);
    assert!(matches!(
        resume(&mut r, "P", "alice", MSG, None, 3, None, false),
        Resume::Frames(_)
    ));
}

#[test]
fn a_recovered_session_takes_over_the_rooms_with_their_epochs_within_the_cap() {
    let mut parked = JoinedRooms::default();
    for n in 0..(MAX_JOINED_CONVERSATIONS as u128 + 2) {
        parked.insert(Uuid::from_u128(n));
        parked.verify(&Uuid::from_u128(n), 7);
    }
    let mut mine = JoinedRooms::default();
    mine.insert(Uuid::from_u128(1));
    adopt_rooms(&parked, &mut mine);
    assert_eq!(mine.len(), MAX_JOINED_CONVERSATIONS);
    assert_eq!(mine.epoch(&Uuid::from_u128(0)), 7, "verified where it was");
    assert_eq!(mine.epoch(&Uuid::from_u128(1)), 0, "its own join stands");
}

#[test]
fn another_gateway_looks_first_then_takes_from_where_it_looked() {
    let mut a = Recovery::new("a", config());
    a.track("s1", "P");
    deliver(&mut a, &event(MSG, 1), &["s1"]);
    a.park(&session("s1", "alice", &[MSG]), 0);
    deliver(&mut a, &event(MSG, 2), &["s1"]);
    // the first look takes nothing: the session stays parked and recording
    let first = RecoverAnswer::of(&resume(
        &mut a,
        "P",
        "alice",
        MSG,
        Some("a-1"),
        1,
        Some("gw.b"),
        true,
    ));
    assert_eq!(first.frames, [event(MSG, 2)]);
    assert_eq!(first.through.as_deref(), Some("a-2"));
    assert!(a.is_parked("s1"));
    // meanwhile the new gateway subscribed; both see 3, only the old one saw it before
    deliver(&mut a, &event(MSG, 3), &["s1"]);
    let mut b = Recovery::new("b", config());
    b.track("t1", "P");
    b.hold("t1", MSG);
    b.hold("t1", NOTE);
    assert!(b.hold_push("t1", &event(MSG, 3)));
    assert!(b.hold_push("t1", &event(MSG, 4)));
    assert!(!b.hold_push("t9", &event(MSG, 4)), "not holding");
    assert!(b.hold_push("t1", &event(NOTE, 9)), "each namespace its own");
    let last = RecoverAnswer::of(&resume(
        &mut a,
        "P",
        "alice",
        MSG,
        first.through.as_deref(),
        2,
        Some("gw.b"),
        false,
    ));
    assert_eq!(last.frames, [event(MSG, 3)]);
    assert!(!a.is_parked("s1"));
    assert_eq!(
        b.release("t1", MSG, &last.frames),
        [event(MSG, 4)],
        "3 once, then 4"
    );
    assert!(!b.hold_push("t1", &event(MSG, 5)), "released");
    assert!(
        b.hold_push("t1", &event(NOTE, 10)),
        "the other namespace still holds"
    );
    assert_eq!(
        b.release("t1", NOTE, &[]),
        [event(NOTE, 9), event(NOTE, 10)]
    );
}
