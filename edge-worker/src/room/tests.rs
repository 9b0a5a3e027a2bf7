use super::*;

fn seqs<T>(ready: Vec<(i64, T)>) -> Vec<i64> {
    ready.into_iter().map(|(s, _)| s).collect()
}

fn buf() -> SeqBuffer<()> {
    SeqBuffer::new(300)
}

#[test]
fn a_new_room_starts_where_its_first_event_says_without_a_hold() {
    let mut b = buf();
    assert_eq!(seqs(b.accept(1, (), 0)), [1]);
    // a room started (or evicted and restarted) mid-conversation: its first
    // event goes out at once, and the next one in order, with no hold
    let mut c = buf();
    assert_eq!(seqs(c.accept(41, (), 0)), [41]);
    assert_eq!(c.last_delivered(), Some(41));
    assert_eq!(c.next_flush_at(), None);
    assert_eq!(seqs(c.accept(42, (), 1)), [42]);
    assert_eq!(c.holds(), 0, "nothing waited behind a gap");
    // seq 2 overtook seq 1 on its way to a new room: both are delivered,
    // 1 late and once
    let mut d = buf();
    assert_eq!(seqs(d.accept(2, (), 0)), [2]);
    assert_eq!(seqs(d.accept(1, (), 10)), [1]);
    assert!(d.accept(1, (), 11).is_empty(), "a second copy is a repeat");
    assert_eq!(d.holds(), 0);
}

#[test]
fn only_the_seqs_just_below_a_start_are_taken_late() {
    let mut b = buf();
    b.accept(1000, (), 0);
    assert_eq!(seqs(b.accept(1000 - START_LATE_WINDOW, (), 1)), [968]);
    assert!(b.accept(1000 - START_LATE_WINDOW - 1, (), 1).is_empty());
}

#[test]
fn a_room_evicted_between_two_messages_delivers_the_second_without_a_hold() {
    // the Room object: messages 1..=5, then eviction (its memory is gone)
    let mut before = RoomState::new(gateways(&["DFW.0"]), 300);
    for seq in 1..=5 {
        assert_eq!(before.publish(Some(seq), event("m"), seq as u64).len(), 1);
    }
    // a new instance loads the stored gateway set only, and takes message 6
    let mut after = RoomState::new(before.gateways().clone(), 300);
    let released = after.publish(Some(6), event("six"), 20_000);
    assert_eq!(frames(released), ["six"]);
    assert_eq!(after.next_flush_at(), None, "nothing waits for a flush");
    assert_eq!(
        frames(after.publish(Some(7), event("seven"), 20_001)),
        ["seven"]
    );
    assert_eq!(after.holds(), 0, "the Room's own counter: no hold");
    assert_eq!(after.last_delivered_seq(), Some(7));
}

#[test]
fn repeats_and_old_seqs_are_dropped() {
    let mut b = buf();
    for seq in 1..=5 {
        b.accept(seq, (), 0);
    }
    assert!(b.accept(5, (), 0).is_empty());
    assert!(b.accept(3, (), 0).is_empty());
    assert_eq!(seqs(b.accept(6, (), 0)), [6]);
    b.accept(8, (), 0);
    assert!(
        b.accept(8, (), 0).is_empty(),
        "a held seq is not held twice"
    );
    assert_eq!(b.held_len(), 1);
}

#[test]
fn a_seq_skipped_behind_a_gap_is_delivered_late_once() {
    let mut b = buf();
    b.accept(1, (), 0);
    assert!(b.accept(3, (), 10).is_empty());
    assert_eq!(b.holds(), 1);
    assert_eq!(seqs(b.flush_due(310)), [3], "2 given up on");
    // 2 turns up after all: delivered, out of order, not dropped
    assert_eq!(seqs(b.accept(2, (), 400)), [2]);
    assert!(b.accept(2, (), 401).is_empty(), "a second copy is a repeat");
    assert!(b.accept(1, (), 402).is_empty(), "never skipped: a repeat");
    assert_eq!(seqs(b.accept(4, (), 403)), [4]);
}

#[test]
fn gap_is_filled_in_order() {
    let mut b = buf();
    b.accept(1, (), 0);
    assert!(b.accept(3, (), 10).is_empty());
    assert!(b.accept(4, (), 20).is_empty());
    assert_eq!(b.next_flush_at(), Some(310));
    assert_eq!(seqs(b.accept(2, (), 30)), [2, 3, 4]);
    assert_eq!(b.held_len(), 0);
    assert_eq!(b.next_flush_at(), None);
}

#[test]
fn a_lost_event_blocks_for_at_most_the_hold_time() {
    let mut b = buf();
    b.accept(1, (), 0);
    b.accept(3, (), 100);
    b.accept(4, (), 150);
    assert!(b.flush_due(399).is_empty());
    assert_eq!(seqs(b.flush_due(400)), [3, 4]);
    // 2 arriving late is delivered then, out of order, and only once
    assert_eq!(seqs(b.accept(2, (), 500)), [2]);
    assert!(b.accept(2, (), 501).is_empty());
    assert_eq!(seqs(b.accept(5, (), 500)), [5]);
}

#[test]
fn flush_releases_only_what_is_due_across_several_gaps() {
    let mut b = buf();
    b.accept(1, (), 0);
    b.accept(3, (), 0); // gap at 2, held since 0
    b.accept(6, (), 200); // gap at 4..5, held since 200
    assert_eq!(seqs(b.flush_due(300)), [3]);
    assert_eq!(b.next_flush_at(), Some(500));
    assert_eq!(seqs(b.accept(4, (), 310)), [4]);
    assert_eq!(seqs(b.accept(5, (), 320)), [5, 6]);
}

#[test]
fn an_overdue_item_behind_a_fresh_gap_releases_everything_before_it() {
    let mut b = buf();
    b.accept(1, (), 0);
    b.accept(5, (), 0); // overdue at 300
    b.accept(3, (), 250); // not yet overdue, but lower
    assert_eq!(seqs(b.flush_due(300)), [3, 5]);
}

#[test]
fn held_events_are_bounded() {
    let mut b = buf();
    b.accept(1, (), 0);
    let mut released = Vec::new();
    for seq in 3..(MAX_HELD_EVENTS as i64 + 4) {
        released.extend(seqs(b.accept(seq, (), 0)));
    }
    assert!(b.held_len() <= MAX_HELD_EVENTS);
    assert_eq!(released.first(), Some(&3), "the gap at 2 was given up on");
    assert!(released.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn extreme_seqs_do_not_overflow() {
    let mut b = buf();
    assert_eq!(seqs(b.accept(i64::MAX, (), 0)), [i64::MAX]);
    assert!(b.accept(i64::MAX, (), 0).is_empty());
    // core numbers from 1: nothing at or below 0 is ever delivered
    let mut c = buf();
    assert!(c.accept(i64::MIN, (), 0).is_empty());
    assert!(c.accept(0, (), 0).is_empty());
    assert_eq!(c.held_len(), 0);
    let mut d = buf();
    d.accept(1, (), u64::MAX);
    d.accept(3, (), u64::MAX);
    assert_eq!(d.next_flush_at(), Some(u64::MAX));
    assert_eq!(seqs(d.flush_due(u64::MAX)), Vec::<i64>::new());
}

#[test]
fn seq_buffer_survives_serde() {
    let mut b: SeqBuffer<String> = SeqBuffer::new(300);
    b.accept(1, "a".into(), 0);
    b.accept(3, "c".into(), 7);
    let json = serde_json::to_string(&b).unwrap();
    let mut back: SeqBuffer<String> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);
    assert_eq!(
        back.accept(2, "b".into(), 8),
        vec![(2, "b".to_owned()), (3, "c".to_owned())]
    );
}

fn event(frame: &str) -> RoomEvent {
    RoomEvent {
        namespace: "/messaging".into(),
        frame: frame.into(),
        notify: Vec::new(),
        notify_frame: None,
        evict_user: None,
        removal_epoch: None,
    }
}

fn frames(events: Vec<RoomEvent>) -> Vec<String> {
    events.into_iter().map(|e| e.frame).collect()
}

fn gateways(names: &[&str]) -> GatewaySet {
    names.iter().map(|n| (n.to_string(), 1)).collect()
}

#[test]
fn the_gateway_set_changes_only_on_first_join_and_last_leave() {
    let mut room = RoomState::default();
    assert!(room.subscribe("DFW.0", 1));
    assert!(!room.subscribe("DFW.0", 2), "already in: no write");
    assert!(room.subscribe("AMS.1", 1));
    assert!(room.unsubscribe("DFW.0", 3));
    assert!(!room.unsubscribe("DFW.0", 4));
    assert_eq!(room.gateways().keys().collect::<Vec<_>>(), ["AMS.1"]);
    assert!(room.is_subscribed("AMS.1") && !room.is_subscribed("DFW.0"));
}

#[test]
fn an_older_change_that_arrives_late_is_ignored() {
    let mut room = RoomState::default();
    // leave (v5) overtook the join (v4) it followed
    assert!(!room.unsubscribe("G.0", 5));
    assert!(!room.subscribe("G.0", 4), "stale join");
    assert!(!room.is_subscribed("G.0"));
    // join (v7) overtook a stale "not joined" answer (v6)
    assert!(room.subscribe("G.0", 7));
    assert!(!room.unsubscribe("G.0", 6));
    assert!(room.is_subscribed("G.0"));
}

#[test]
fn publish_orders_seq_events_and_passes_others_through() {
    let mut room = RoomState::new(GatewaySet::new(), 300);
    assert_eq!(frames(room.publish(Some(1), event("m1"), 0)), ["m1"]);
    assert!(room.publish(Some(3), event("m3"), 0).is_empty());
    assert_eq!(frames(room.publish(None, event("edit"), 1)), ["edit"]);
    assert_eq!(room.next_flush_at(), Some(300));
    assert_eq!(frames(room.publish(Some(2), event("m2"), 2)), ["m2", "m3"]);
    assert!(room.publish(Some(2), event("dup"), 3).is_empty());
    room.publish(Some(5), event("m5"), 5);
    assert_eq!(frames(room.flush_due(305)), ["m5"]);
    assert_eq!(room.last_delivered_seq(), Some(5));
}

#[test]
fn one_delivery_per_gateway_joined_or_in_the_notify_set_with_its_stamp() {
    let conversation = Uuid::from_u128(1);
    let room = RoomState::new(gateways(&["A.0", "B.0"]), 300);
    let mut e = event("M");
    e.notify_frame = Some("N".into());
    e.notify = vec![
        NotifyGateway {
            gateway: "B.0".into(),
            stamp: 4,
        },
        NotifyGateway {
            gateway: "C.0".into(),
            stamp: 9,
        },
    ];
    let out = room.deliveries(conversation, &e);
    let names: Vec<&str> = out.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(names, ["A.0", "B.0", "C.0"]);
    match &out[2].1 {
        DeliveryItem::Room { frame, notify, .. } => {
            assert_eq!(frame, &None, "C.0 holds no joined socket");
            let notify = notify.as_ref().unwrap();
            assert_eq!(notify.stamp, 9, "no member list: C.0 decides for its users");
            assert_eq!(notify.namespace, "/notifications");
        }
        other => panic!("{other:?}"),
    }
    match &out[2].1 {
        DeliveryItem::Room { notify, .. } => {
            assert_eq!(notify.as_ref().unwrap().frame.as_deref(), Some("N"));
        }
        other => panic!("{other:?}"),
    }
    match &out[1].1 {
        DeliveryItem::Room { frame, notify, .. } => {
            assert_eq!(frame.as_deref(), Some("M"));
            let notify = notify.as_ref().unwrap();
            assert_eq!(notify.stamp, 4);
            assert_eq!(notify.frame, None, "B.0 derives it from the room frame");
        }
        other => panic!("{other:?}"),
    }
    match &out[0].1 {
        DeliveryItem::Room { frame, notify, .. } => {
            assert_eq!(frame.as_deref(), Some("M"));
            assert_eq!(notify, &None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_removal_evicts_only_on_gateways_that_hold_the_room() {
    let room = RoomState::new(gateways(&["A.0"]), 300);
    let mut e = event("R");
    e.evict_user = Some("bob".into());
    let out = room.deliveries(Uuid::nil(), &e);
    assert!(matches!(&out[0].1, DeliveryItem::Room { evict_user: Some(u), .. } if u == "bob"));
}

#[test]
fn typing_is_relayed_to_the_other_gateways_only() {
    let room = RoomState::new(gateways(&["A.0", "B.0", "C.0"]), 300);
    let relay = Relay {
        conversation_id: Uuid::nil(),
        from_gateway: "B.0".into(),
        namespace: "/messaging".into(),
        frame: "T".into(),
        exclude_user: "alice".into(),
    };
    let out = room.relay_deliveries(&relay);
    let names: Vec<&str> = out.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(names, ["A.0", "C.0"]);
    assert!(matches!(&out[0].1, DeliveryItem::Room { exclude_user: Some(u), .. } if u == "alice"));
}

#[test]
fn core_s_removal_epoch_reaches_the_gateways_and_stamps_typing_relays() {
    let mut room = RoomState::new(gateways(&["A.0", "B.0"]), 300);
    let mut e = event("M");
    e.removal_epoch = Some(4);
    let released = room.publish(None, e, 0);
    let out = room.deliveries(Uuid::nil(), &released[0]);
    assert!(out.iter().all(|(_, i)| matches!(
        i,
        DeliveryItem::Room {
            removal_epoch: Some(4),
            ..
        }
    )));
    let mut older = event("E");
    older.removal_epoch = Some(2);
    room.publish(None, older, 1);
    let relay = Relay {
        conversation_id: Uuid::nil(),
        from_gateway: "B.0".into(),
        namespace: "/messaging".into(),
        frame: "T".into(),
        exclude_user: "alice".into(),
    };
    let out = room.relay_deliveries(&relay);
    assert!(
        matches!(
            &out[0].1,
            DeliveryItem::Room {
                removal_epoch: Some(4),
                ..
            }
        ),
        "the newest epoch seen, not the last one"
    );
}

fn not_joined(conversation_id: Uuid) -> Delivered {
    Delivered {
        frames: 0,
        not_joined: vec![conversation_id],
    }
}

#[test]
fn a_gateway_without_joined_sockets_is_dropped_after_its_answer() {
    let c = Uuid::from_u128(1);
    let mut room = RoomState::new(gateways(&["A.0", "B.0"]), 300);
    let sent = room.version_of("A.0");
    assert!(room.on_delivered(c, "A.0", sent, Some(&not_joined(c))));
    assert!(!room.is_subscribed("A.0"));
    assert!(room.is_subscribed("B.0"));
}

#[test]
fn a_gateway_that_subscribed_again_meanwhile_stays() {
    let c = Uuid::from_u128(1);
    let mut room = RoomState::new(gateways(&["A.0"]), 300);
    let sent = room.version_of("A.0");
    // its socket left and another joined while the delivery was on its way
    assert!(room.unsubscribe("A.0", sent.unwrap() + 5));
    assert!(room.subscribe("A.0", sent.unwrap() + 9));
    assert!(!room.on_delivered(c, "A.0", sent, Some(&not_joined(c))));
    assert!(room.is_subscribed("A.0"));
}

#[test]
fn a_gateway_that_left_by_its_answer_subscribes_again_at_its_next_version() {
    // found end to end: a member removed and added back, alone on a gateway,
    // joined again but heard nothing (the leave had taken the version his
    // gateway's next subscription carried)
    let c = Uuid::from_u128(1);
    let mut room = RoomState::new(gateways(&["A.0"]), 300);
    let sent = room.version_of("A.0").unwrap();
    assert!(room.on_delivered(c, "A.0", Some(sent), Some(&not_joined(c))));
    assert!(!room.is_subscribed("A.0"));
    assert!(
        !room.subscribe("A.0", sent),
        "an older subscription is still ignored"
    );
    assert!(room.subscribe("A.0", sent + 1));
    assert!(room.is_subscribed("A.0"));
}

#[test]
fn an_answer_about_other_rooms_or_no_answer_changes_nothing() {
    let c = Uuid::from_u128(1);
    let mut room = RoomState::new(gateways(&["A.0"]), 300);
    let sent = room.version_of("A.0");
    let other = not_joined(Uuid::from_u128(2));
    assert!(!room.on_delivered(c, "A.0", sent, Some(&other)));
    assert!(!room.on_delivered(c, "A.0", sent, None));
    assert!(!room.on_delivered(c, "A.0", sent, Some(&Delivered::default())));
    assert!(
        !room.on_delivered(c, "Z.0", None, Some(&not_joined(c))),
        "a gateway the room did not list"
    );
    assert!(room.is_subscribed("A.0"));
}

#[test]
fn core_s_event_is_framed_once_and_for_notifications_only_when_someone_is_notified() {
    let event: EdgeEvent = serde_json::from_str(
        r#"{"target":{"kind":"conversation","conversation_id":"00000000-0000-0000-0000-000000000001"},
            "namespace":"/messaging","event":"new_message","data":{"id":"m1"},"seq":4,
            "evict_user_id":"bob"}"#,
    )
    .unwrap();
    let quiet = RoomEvent::of(event, Vec::new());
    assert_eq!(quiet.frame, r#"42/messaging,["new_message",{"id":"m1"}]"#);
    assert_eq!(quiet.notify_frame, None);
    assert_eq!(quiet.evict_user.as_deref(), Some("bob"));
    let event: EdgeEvent = serde_json::from_str(
        r#"{"target":{"kind":"conversation","conversation_id":"00000000-0000-0000-0000-000000000001"},
            "namespace":"/messaging","event":"new_message","data":{"id":"m2"}}"#,
    )
    .unwrap();
    let notify = vec![NotifyGateway {
        gateway: "A.0".into(),
        stamp: 1,
    }];
    let loud = RoomEvent::of(event, notify.clone());
    assert_eq!(
        loud.notify_frame.as_deref(),
        Some(r#"42/notifications,["new_message",{"id":"m2"}]"#)
    );
    assert_eq!(loud.notify, notify);
}

#[test]
fn an_event_about_a_message_waits_for_that_message() {
    // two core replicas: the edit (after seq 2) arrives before message 2
    let mut room = RoomState::new(GatewaySet::new(), 300);
    assert_eq!(frames(room.publish(Some(1), event("m1"), 0)), ["m1"]);
    assert!(room
        .publish_ordered(None, Some(2), event("edit m2"), 1)
        .is_empty());
    assert!(room
        .publish_ordered(None, Some(2), event("react m2"), 2)
        .is_empty());
    // about a delivered message: straight through
    assert_eq!(
        frames(room.publish_ordered(None, Some(1), event("edit m1"), 3)),
        ["edit m1"]
    );
    assert_eq!(room.next_flush_at(), Some(301));
    assert_eq!(
        frames(room.publish(Some(2), event("m2"), 4)),
        ["m2", "edit m2", "react m2"]
    );
    assert_eq!(room.next_flush_at(), None);
}

#[test]
fn an_event_whose_message_never_comes_goes_out_when_its_hold_ends() {
    let mut room = RoomState::new(GatewaySet::new(), 300);
    room.publish(Some(1), event("m1"), 0);
    assert!(room
        .publish_ordered(None, Some(7), event("edit m7"), 10)
        .is_empty());
    assert!(room.flush_due(309).is_empty());
    assert_eq!(frames(room.flush_due(310)), ["edit m7"]);
    // behind a gap: released right after the message, with the run it ends
    assert!(room.publish(Some(3), event("m3"), 400).is_empty());
    assert!(room
        .publish_ordered(None, Some(3), event("edit m3"), 401)
        .is_empty());
    assert_eq!(
        frames(room.publish(Some(2), event("m2"), 402)),
        ["m2", "m3", "edit m3"]
    );
}

#[test]
fn a_room_names_its_recent_evictions_to_a_subscribing_gateway() {
    let conversation = Uuid::from_u128(1);
    let mut room = RoomState::new(GatewaySet::new(), 300);
    let mut removal = event("removed");
    removal.evict_user = Some("carol".into());
    // no gateway listed yet: the eviction reaches nobody, but is remembered
    assert_eq!(room.publish(None, removal, 1_000).len(), 1);
    room.subscribe("DFW.0", 1);
    let named = room.recent_evictions(conversation, 1_250);
    assert_eq!(named.len(), 1);
    assert_eq!(
        (
            named[0].user_id.as_str(),
            named[0].age_ms,
            named[0].conversation_id
        ),
        ("carol", 250, conversation)
    );
}
