use super::*;
use crate::gateway::delivery::Notify;

/// The plan's sends as owned pairs, to compare.
fn sends(plan: &Plan) -> Vec<(String, String)> {
    plan.sends
        .iter()
        .map(|(sid, frame)| (sid.clone(), frame.to_string()))
        .collect()
}

fn conv(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn socket(sid: &str, user: Option<&str>, namespaces: &[&str], joined: &[u128]) -> SessionState {
    let mut s = SessionState::new(sid, None, 0);
    s.tms_user_id = user.map(str::to_owned);
    for n in namespaces {
        s.namespaces.insert(n);
    }
    s.joined = joined.iter().map(|n| conv(*n)).collect();
    s
}

fn room_item(c: u128, frame: Option<&str>) -> DeliveryItem {
    DeliveryItem::Room {
        conversation_id: conv(c),
        frame: frame.map(str::to_owned),
        namespace: "/messaging".into(),
        exclude_user: None,
        evict_user: None,
        notify: None,
        removal_epoch: None,
    }
}

#[test]
fn first_join_subscribes_and_last_leave_unsubscribes() {
    let mut index = SocketIndex::default();
    let t = index.upsert("s1", &socket("s1", Some("alice"), &["/messaging"], &[]));
    assert_eq!(t.arrived.as_deref(), Some("alice"));
    assert!(t.subscribe.is_empty());
    let t = index.upsert("s1", &socket("s1", Some("alice"), &["/messaging"], &[1]));
    assert_eq!(t.subscribe, [conv(1)]);
    assert_eq!(t.arrived, None, "the same user again is no arrival");
    let t = index.upsert("s2", &socket("s2", Some("bob"), &["/messaging"], &[1]));
    assert!(t.subscribe.is_empty(), "second socket of a subscribed room");
    assert_eq!(t.arrived.as_deref(), Some("bob"));
    assert_eq!(index.joined_sockets(&conv(1)), 2);
    let t = index.upsert("s1", &socket("s1", Some("alice"), &["/messaging"], &[]));
    assert!(t.unsubscribe.is_empty());
    let t = index.remove("s2");
    assert_eq!(t.unsubscribe, [conv(1)]);
    assert_eq!(t.departed.as_deref(), Some("bob"));
    assert_eq!(index.users(), ["alice"]);
}

#[test]
fn a_user_departs_with_their_last_socket_only() {
    let mut index = SocketIndex::default();
    index.upsert("p", &socket("p", Some("alice"), &["/messaging"], &[]));
    index.upsert("q", &socket("q", Some("alice"), &["/notifications"], &[]));
    assert_eq!(index.remove("p").departed, None);
    assert_eq!(index.remove("q").departed.as_deref(), Some("alice"));
    assert!(index.is_empty());
    assert!(
        index.remove("q").is_empty(),
        "removing twice reports nothing"
    );
}

#[test]
fn a_closed_attachment_counts_as_removed() {
    let mut index = SocketIndex::default();
    index.upsert("s", &socket("s", Some("alice"), &["/messaging"], &[3]));
    let mut closed = socket("s", Some("alice"), &["/messaging"], &[3]);
    closed.closed = true;
    let t = index.upsert("s", &closed);
    assert_eq!(t.unsubscribe, [conv(3)]);
    assert_eq!(t.departed.as_deref(), Some("alice"));
    assert_eq!(index.len(), 0);
}

#[test]
fn rebuild_reports_nothing_and_matches_incremental_updates() {
    let states = [
        socket("a", Some("alice"), &["/messaging"], &[1, 2]),
        socket("b", Some("bob"), &["/messaging", "/notifications"], &[2]),
        socket("c", None, &[], &[]),
    ];
    let rebuilt = SocketIndex::rebuild(&states);
    let mut incremental = SocketIndex::default();
    for s in &states {
        incremental.upsert(&s.session_id, s);
    }
    assert_eq!(rebuilt, incremental);
    assert_eq!(rebuilt.joined_sockets(&conv(2)), 2);
    assert_eq!(rebuilt.users(), ["alice", "bob"]);
}

#[test]
fn room_frames_go_to_joined_sockets_connected_to_the_namespace() {
    let mut index = SocketIndex::default();
    index.upsert("a", &socket("a", Some("alice"), &["/messaging"], &[1]));
    index.upsert("b", &socket("b", Some("bob"), &["/messaging"], &[1]));
    index.upsert("c", &socket("c", Some("carol"), &["/messaging"], &[2]));
    let item = room_item(1, Some("F"));
    let plan = index.plan(&item);
    assert_eq!(
        sends(&plan),
        [("a".to_string(), "F".to_string()), ("b".into(), "F".into())]
    );
    assert!(plan.not_joined.is_empty() && plan.evict.is_empty());
    let item = room_item(9, Some("F"));
    let plan = index.plan(&item);
    assert!(plan.sends.is_empty());
    assert_eq!(plan.not_joined, [conv(9)]);
}

#[test]
fn typing_skips_its_author_on_every_device() {
    let mut index = SocketIndex::default();
    index.upsert("a1", &socket("a1", Some("alice"), &["/messaging"], &[1]));
    index.upsert("a2", &socket("a2", Some("alice"), &["/messaging"], &[1]));
    index.upsert("b", &socket("b", Some("bob"), &["/messaging"], &[1]));
    let mut item = room_item(1, Some("T"));
    if let DeliveryItem::Room { exclude_user, .. } = &mut item {
        *exclude_user = Some("alice".into());
    }
    assert_eq!(
        sends(&index.plan(&item)),
        [("b".to_string(), "T".to_string())]
    );
}

#[test]
fn notified_members_get_the_notification_only_on_sockets_outside_the_room() {
    let mut index = SocketIndex::default();
    // alice: one socket in the room, one elsewhere listening to /notifications
    index.upsert("a1", &socket("a1", Some("alice"), &["/messaging"], &[1]));
    index.upsert(
        "a2",
        &socket("a2", Some("alice"), &["/messaging", "/notifications"], &[]),
    );
    // bob has not connected /notifications: nothing for him
    index.upsert("b", &socket("b", Some("bob"), &["/messaging"], &[]));
    let item = DeliveryItem::Room {
        conversation_id: conv(1),
        frame: Some("M".into()),
        namespace: "/messaging".into(),
        exclude_user: None,
        evict_user: None,
        notify: Some(Notify {
            stamp: 1,
            namespace: "/notifications".into(),
            frame: Some("N".into()),
        }),
        removal_epoch: None,
    };
    let members: Vec<String> = ["alice", "bob", "nobody"].map(String::from).to_vec();
    let plan = index.plan_with(&item, &members);
    assert_eq!(
        sends(&plan),
        [
            ("a1".to_string(), "M".to_string()),
            ("a2".into(), "N".into())
        ]
    );
}

#[test]
fn user_items_reach_every_connected_socket_of_the_users() {
    let mut index = SocketIndex::default();
    index.upsert("a1", &socket("a1", Some("alice"), &["/calls"], &[]));
    index.upsert("a2", &socket("a2", Some("alice"), &["/messaging"], &[]));
    index.upsert("b", &socket("b", Some("bob"), &["/calls"], &[]));
    let item = DeliveryItem::Users {
        user_ids: vec!["alice".into()],
        namespace: "/calls".into(),
        frame: "C".into(),
        close: false,
    };
    assert_eq!(
        sends(&index.plan(&item)),
        [("a1".to_string(), "C".to_string())]
    );
    assert!(index.plan(&item).close.is_empty());
}

#[test]
fn a_closing_item_disconnects_every_namespace_then_closes_the_users_sockets() {
    let mut index = SocketIndex::default();
    index.upsert(
        "a1",
        &socket("a1", Some("alice"), &["/messaging", "/notifications"], &[1]),
    );
    index.upsert("a2", &socket("a2", Some("alice"), &["/calls"], &[]));
    index.upsert("b", &socket("b", Some("bob"), &["/notifications"], &[]));
    let item = DeliveryItem::Users {
        user_ids: vec!["alice".into()],
        namespace: "/notifications".into(),
        frame: "BYE".into(),
        close: true,
    };
    let plan = index.plan(&item);
    let of = |sid: &str| -> Vec<&str> {
        plan.sends
            .iter()
            .filter(|(s, _)| s == sid)
            .map(|(_, f)| f.as_ref())
            .collect()
    };
    assert_eq!(of("a1"), ["BYE", "41/messaging,", "41/notifications,"]);
    assert_eq!(of("a2"), ["41/calls,"], "not on /notifications: no BYE");
    assert!(of("b").is_empty(), "bob is untouched");
    assert_eq!(plan.close, ["a1", "a2"]);
}

#[test]
fn an_eviction_names_the_removed_users_joined_sockets_after_the_frame() {
    let mut index = SocketIndex::default();
    index.upsert("a", &socket("a", Some("alice"), &["/messaging"], &[1]));
    index.upsert("b1", &socket("b1", Some("bob"), &["/messaging"], &[1]));
    index.upsert("b2", &socket("b2", Some("bob"), &["/messaging"], &[2]));
    let mut item = room_item(1, Some("R"));
    if let DeliveryItem::Room { evict_user, .. } = &mut item {
        *evict_user = Some("bob".into());
    }
    let plan = index.plan(&item);
    assert_eq!(plan.sends.len(), 2, "bob hears of his own removal");
    assert_eq!(plan.evict, [("b1".to_string(), conv(1))]);
}

#[test]
fn a_notification_without_its_own_frame_is_the_room_frame_in_its_namespace() {
    let mut index = SocketIndex::default();
    index.upsert("a", &socket("a", Some("alice"), &["/messaging"], &[1]));
    index.upsert("b", &socket("b", Some("bob"), &["/notifications"], &[]));
    let data = serde_json::json!({"id": "m-1"});
    let item = DeliveryItem::Room {
        conversation_id: conv(1),
        frame: Some(socketio::event("/messaging", "new_message", &data)),
        namespace: "/messaging".into(),
        exclude_user: None,
        evict_user: None,
        notify: Some(Notify {
            stamp: 1,
            namespace: "/notifications".into(),
            frame: None,
        }),
        removal_epoch: None,
    };
    let members: Vec<String> = ["alice", "bob"].map(String::from).to_vec();
    assert_eq!(
        sends(&index.plan_with(&item, &members)),
        [
            (
                "a".to_string(),
                socketio::event("/messaging", "new_message", &data)
            ),
            (
                "b".to_string(),
                socketio::event("/notifications", "new_message", &data)
            ),
        ]
    );
}

#[test]
fn a_user_is_admitted_up_to_the_limit_of_sockets() {
    let mut index = SocketIndex::default();
    assert!(index.admits("alice", 2));
    index.upsert("s1", &socket("s1", Some("alice"), &["/messaging"], &[]));
    assert!(index.admits("alice", 2));
    index.upsert("s2", &socket("s2", Some("alice"), &["/messaging"], &[]));
    assert!(!index.admits("alice", 2));
    assert!(index.admits("bob", 2), "per user");
    index.remove("s1");
    assert!(index.admits("alice", 2), "a closed socket frees its slot");
}

fn epoch_item(epoch: Option<i64>, evict_user: Option<&str>) -> DeliveryItem {
    DeliveryItem::Room {
        conversation_id: conv(1),
        frame: Some("M".into()),
        namespace: "/messaging".into(),
        exclude_user: None,
        evict_user: evict_user.map(str::to_owned),
        notify: None,
        removal_epoch: epoch,
    }
}

fn verified(sid: &str, user: &str, epoch: i64) -> SessionState {
    let mut s = socket(sid, Some(user), &["/messaging"], &[1]);
    s.on_verified(conv(1), epoch);
    s
}

#[test]
fn a_socket_verified_before_a_removal_it_did_not_see_waits_for_core() {
    let mut index = SocketIndex::default();
    index.upsert("a", &verified("a", "alice", 2));
    index.upsert("b", &verified("b", "bob", 1));
    index.upsert("c", &socket("c", Some("carol"), &["/messaging"], &[1]));

    let stamped = epoch_item(Some(2), None);
    let plan = index.plan(&stamped);
    assert_eq!(sends(&plan), [("a".to_string(), "M".to_string())]);
    let held: Vec<(&str, &str)> = plan
        .held
        .iter()
        .map(|(sid, user, _)| (sid.as_str(), user.as_str()))
        .collect();
    assert_eq!(
        held,
        [("b", "bob"), ("c", "carol")],
        "bob and carol may have been removed"
    );

    let unstamped = epoch_item(None, None);
    let plan = index.plan(&unstamped);
    assert_eq!(plan.sends.len(), 3, "an unstamped event is not held");
    assert!(plan.held.is_empty());
}

#[test]
fn the_eviction_that_made_an_epoch_advances_the_sockets_one_behind_it() {
    let mut index = SocketIndex::default();
    index.upsert("a", &verified("a", "alice", 4));
    index.upsert("b", &verified("b", "bob", 4));
    index.upsert("c", &verified("c", "carol", 3));

    // bob is removed at epoch 5: alice saw every removal before it
    let eviction = epoch_item(Some(5), Some("bob"));
    let plan = index.plan(&eviction);
    assert_eq!(
        sends(&plan),
        [("a".to_string(), "M".to_string()), ("b".into(), "M".into())],
        "bob gets his own eviction, then leaves"
    );
    assert_eq!(plan.advance, [("a".to_string(), 5)]);
    assert_eq!(plan.evict, [("b".to_string(), conv(1))]);
    assert_eq!(plan.held.len(), 1, "carol missed epoch 4: core is asked");
    assert_eq!(plan.held[0].0, "c");
}

#[test]
fn a_members_item_reaches_every_connected_socket_of_the_members_here() {
    let mut index = SocketIndex::default();
    index.upsert(
        "a1",
        &socket("a1", Some("alice"), &["/notifications"], &[1]),
    );
    index.upsert("a2", &socket("a2", Some("alice"), &["/messaging"], &[]));
    index.upsert("c", &socket("c", Some("carol"), &["/notifications"], &[]));
    let item = DeliveryItem::Members {
        conversation_id: conv(1),
        stamp: 1,
        namespace: "/notifications".into(),
        frame: "U".into(),
        removal_epoch: None,
    };
    let members: Vec<String> = ["alice", "nobody"].map(String::from).to_vec();
    assert_eq!(
        sends(&index.plan_with(&item, &members)),
        [("a1".to_string(), "U".to_string())],
        "joined or not; carol is no member"
    );
    assert!(index.plan(&item).sends.is_empty(), "nothing known: nobody");
}
