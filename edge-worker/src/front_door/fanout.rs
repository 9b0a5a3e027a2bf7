//! Core's fan-out batch (`POST /internal/v1/fanout`): conversation events
//! go to their Room in one request per Room, user-addressed and member-wide
//! ones to their gateways in one request per gateway, each keeping the
//! batch's order; the answer to core follows from the targets' answers.

use std::collections::BTreeMap;

use shared_types::internal::{FanoutTarget, GatewayUsers};
use uuid::Uuid;

use crate::gateway::delivery::DeliveryItem;
use crate::protocol::socketio;
use crate::room::api::EdgeEvent;

/// Each Room's events, in the batch's order.
pub type RoomEvents = BTreeMap<Uuid, Vec<EdgeEvent>>;
/// Each gateway's delivery items and how many of the batch's events they carry.
pub type GatewayItems = BTreeMap<String, (Vec<DeliveryItem>, usize)>;

/// Groups a batch by target, keeping its order within each target; a
/// user-addressed event is serialised once for all its gateways.
pub fn route(events: Vec<EdgeEvent>) -> (RoomEvents, GatewayItems) {
    let mut rooms: RoomEvents = BTreeMap::new();
    let mut gateways: GatewayItems = BTreeMap::new();
    for event in events {
        match &event.target {
            FanoutTarget::Conversation {
                conversation_id, ..
            } => rooms.entry(*conversation_id).or_default().push(event),
            FanoutTarget::Gateways { gateways: targets } => {
                let frame = socketio::event_raw(&event.namespace, &event.event, event.data.get());
                users(&mut gateways, targets, &event, &frame);
            }
            FanoutTarget::Members {
                conversation_id,
                gateways: set,
                also,
            } => {
                let frame = socketio::event_raw(&event.namespace, &event.event, event.data.get());
                for target in set {
                    let entry = gateways.entry(target.gateway.clone()).or_default();
                    entry.0.push(DeliveryItem::Members {
                        conversation_id: *conversation_id,
                        stamp: target.stamp,
                        namespace: event.namespace.clone(),
                        frame: frame.clone(),
                        removal_epoch: event.removal_epoch,
                    });
                    entry.1 += 1;
                }
                users(&mut gateways, also, &event, &frame);
            }
        }
    }
    (rooms, gateways)
}

/// A user-addressed event's items, one per gateway.
fn users(gateways: &mut GatewayItems, targets: &[GatewayUsers], event: &EdgeEvent, frame: &str) {
    for target in targets {
        let entry = gateways.entry(target.gateway.clone()).or_default();
        entry.0.push(DeliveryItem::Users {
            user_ids: target.user_ids.clone(),
            namespace: event.namespace.clone(),
            frame: frame.to_owned(),
            close: event.close_sessions,
        });
        entry.1 += 1;
    }
}

/// What the Worker answers core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanoutAnswer {
    /// How many of the batch's events reached a target.
    Accepted(u32),
    /// A target refused core's signature (a replay): `INTERNAL_AUTH_FAILED`.
    AuthFailed,
    /// No target took anything: core may retry the whole batch.
    Unavailable,
}

/// The answer from each target's status (`None`: the call failed) and the
/// number of events it carried, for a batch of `total` events.
pub fn answer(
    total: usize,
    results: impl IntoIterator<Item = (Option<u16>, usize)>,
) -> FanoutAnswer {
    let mut accepted = 0usize;
    let mut attempted = 0usize;
    for (status, count) in results {
        attempted += 1;
        match status {
            Some(401) => return FanoutAnswer::AuthFailed,
            Some(200..=299) => accepted += count,
            _ => {}
        }
    }
    if attempted > 0 && accepted == 0 && total > 0 {
        return FanoutAnswer::Unavailable;
    }
    FanoutAnswer::Accepted(accepted.min(u32::MAX as usize) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> EdgeEvent {
        serde_json::from_str(json).unwrap()
    }

    const C1: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn a_batch_is_split_by_room_and_by_gateway_in_order() {
        let events = vec![
            event(&format!(
                r#"{{"target":{{"kind":"conversation","conversation_id":"{C1}"}},"namespace":"/messaging","event":"new_message","data":{{"n":1}},"seq":1}}"#
            )),
            event(
                r#"{"target":{"kind":"gateways","gateways":[{"gateway":"A.0","user_ids":["bob"]},{"gateway":"B.0","user_ids":["carol","dave"]}]},"namespace":"/notifications","event":"member_added","data":{"n":2}}"#,
            ),
            event(&format!(
                r#"{{"target":{{"kind":"conversation","conversation_id":"{C1}"}},"namespace":"/messaging","event":"new_message","data":{{"n":3}},"seq":2}}"#
            )),
            event(
                r#"{"target":{"kind":"gateways","gateways":[{"gateway":"A.0","user_ids":["bob"]}]},"namespace":"/notifications","event":"session_closed","data":{},"close_sessions":true}"#,
            ),
        ];
        let (rooms, gateways) = route(events);
        let c1 = Uuid::parse_str(C1).unwrap();
        let seqs: Vec<Option<i64>> = rooms[&c1].iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [Some(1), Some(2)]);
        assert_eq!(rooms.len(), 1);
        let (a_items, a_count) = &gateways["A.0"];
        assert_eq!(*a_count, 2);
        assert_eq!(
            a_items,
            &[
                DeliveryItem::Users {
                    user_ids: vec!["bob".into()],
                    namespace: "/notifications".into(),
                    frame: r#"42/notifications,["member_added",{"n":2}]"#.into(),
                    close: false,
                },
                DeliveryItem::Users {
                    user_ids: vec!["bob".into()],
                    namespace: "/notifications".into(),
                    frame: r#"42/notifications,["session_closed",{}]"#.into(),
                    close: true,
                },
            ]
        );
        let (b_items, b_count) = &gateways["B.0"];
        assert_eq!(*b_count, 1);
        assert!(
            matches!(&b_items[0], DeliveryItem::Users { user_ids, .. } if user_ids == &["carol", "dave"])
        );
    }

    #[test]
    fn a_member_wide_event_goes_to_its_notify_set_as_members_items_and_to_also_as_users() {
        let events = vec![event(&format!(
            r#"{{"target":{{"kind":"members","conversation_id":"{C1}","gateways":[{{"gateway":"A.0","stamp":3}},{{"gateway":"B.0","stamp":7}}],"also":[{{"gateway":"B.0","user_ids":["bob"]}}]}},"namespace":"/notifications","event":"member_removed","data":{{"user_id":"bob"}},"removal_epoch":2}}"#
        ))];
        let (rooms, gateways) = route(events);
        assert!(rooms.is_empty(), "not through the Room");
        let frame = r#"42/notifications,["member_removed",{"user_id":"bob"}]"#;
        let c1 = Uuid::parse_str(C1).unwrap();
        assert_eq!(
            gateways["A.0"].0,
            [DeliveryItem::Members {
                conversation_id: c1,
                stamp: 3,
                namespace: "/notifications".into(),
                frame: frame.into(),
                removal_epoch: Some(2),
            }]
        );
        assert_eq!(gateways["B.0"].0.len(), 2, "its members, then bob");
        assert!(
            matches!(&gateways["B.0"].0[1], DeliveryItem::Users { user_ids, .. } if user_ids == &["bob"])
        );
    }

    #[test]
    fn the_answer_counts_what_reached_a_target() {
        let all = [(Some(200), 2), (Some(202), 1)];
        assert_eq!(answer(3, all), FanoutAnswer::Accepted(3));
        let some = [(Some(200), 2), (None, 1), (Some(500), 4)];
        assert_eq!(answer(7, some), FanoutAnswer::Accepted(2));
        let none = [(None, 2), (Some(503), 1)];
        assert_eq!(answer(3, none), FanoutAnswer::Unavailable);
        let replayed = [(Some(200), 2), (Some(401), 1)];
        assert_eq!(answer(3, replayed), FanoutAnswer::AuthFailed);
        assert_eq!(answer(0, []), FanoutAnswer::Accepted(0));
        assert_eq!(
            answer(2, []),
            FanoutAnswer::Accepted(0),
            "events with no target (no gateway holds their users) are no failure"
        );
    }
}
