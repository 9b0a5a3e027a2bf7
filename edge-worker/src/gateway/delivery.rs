//! What a Gateway object is asked to deliver, by a Room (room events) or by
//! the Worker (user-addressed events from core), how it runs a delivery
//! (`DeliveryRun`) and what it answers (`Delivered`).
//!
//! Per item, the glue writes the frames of the index's `Plan`, then evicts
//! and closes the sockets it names. Evictions report presence only: the
//! Room learns that this gateway holds no joined socket any more from the
//! answer's `not_joined`, so no unsubscribe is sent on the side.

use crate::common::replay_guard::ReplayGuard;
use crate::gateway::index::{SocketIndex, Transitions};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One event for one gateway; the frames are serialised once, upstream.
/// Externally tagged (`{"room":{…}}`): an internally tagged enum is read
/// through a buffered copy, which was the gateway's largest parsing cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryItem {
    /// A conversation's event.
    Room {
        conversation_id: Uuid,
        /// For this gateway's sockets joined to the conversation (`None` when
        /// the gateway holds only members to notify).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<String>,
        /// The namespace `frame` is on; a joined socket must be connected to it.
        namespace: String,
        /// Skip this user's sockets (typing is not echoed to its author).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exclude_user: Option<String>,
        /// Once delivered, this user's sockets leave the room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evict_user: Option<String>,
        /// This gateway is in the conversation's notify set: its users who
        /// are members (`gateway::local_members`) get `frame` of `notify` on
        /// their sockets that have not joined the room (on `/notifications`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notify: Option<Notify>,
        /// The conversation's removal epoch (`FanoutEvent::removal_epoch`):
        /// joined sockets verified at an older one are checked first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removal_epoch: Option<i64>,
    },
    /// Every socket connected to `namespace` of this gateway's users who
    /// are members of the conversation (`local_members`): a membership
    /// event for a conversation whose notify set names this gateway.
    Members {
        conversation_id: Uuid,
        /// This gateway's registration stamp, as for `Notify::stamp`.
        stamp: u64,
        namespace: String,
        frame: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removal_epoch: Option<i64>,
    },
    /// Every socket of these users that is connected to `namespace`.
    Users {
        user_ids: Vec<String>,
        namespace: String,
        frame: String,
        /// Then every socket of these users is disconnected and closed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        close: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    /// This gateway's registration stamp in the notify set, as core read it
    /// for the event (`NotifyGateway::stamp`).
    pub stamp: u64,
    pub namespace: String,
    /// `None` on a gateway that also gets the room `frame`: the notification
    /// is that frame in `namespace` (the gateway swaps the namespace), so the
    /// event is not carried and parsed twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// Whether a joined socket may get a room event now, by the removal epoch
/// its membership was verified at and the one the event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Verified at the event's epoch or later (or the event carries none).
    Pass,
    /// The event is the eviction that made `epoch` (exact, set by core) and
    /// the socket was verified at `epoch - 1`: this removal is the only one
    /// since, and it is not this socket's user. Deliver, and record `epoch`.
    Advance(i64),
    /// A removal this gateway may not have heard of: ask core whether the
    /// user is still a member before the frame is written.
    Check,
}

/// The rule (`removed means removed`): a room event reaches a joined socket
/// only if the socket's membership was verified at the event's removal epoch
/// or later. The user an eviction removes gets that eviction's frame, then
/// leaves the room.
pub fn admission(
    verified: i64,
    event_epoch: Option<i64>,
    evict_user: Option<&str>,
    user: Option<&str>,
) -> Admission {
    let Some(epoch) = event_epoch else {
        return Admission::Pass;
    };
    if verified >= epoch {
        return Admission::Pass;
    }
    match evict_user {
        Some(evicted) if user == Some(evicted) => Admission::Pass,
        Some(_) if verified == epoch - 1 => Admission::Advance(epoch),
        _ => Admission::Check,
    }
}

/// The body of a gateway's `/deliver`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Core's signature when the Worker forwards core's events directly, for
    /// the replay check; `None` from a Room (objects are not reachable from outside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The addressed gateway's name, from a Room: a gateway woken by a
    /// delivery with no socket left knows its name only from it (to prune
    /// itself from a notify set, `local_members`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub items: Vec<DeliveryItem>,
}

/// A gateway's answer to `/deliver`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    /// Frames written to sockets.
    pub frames: u32,
    /// Conversations of the delivered room items that this gateway no longer
    /// holds any joined socket of: the Room stops sending them here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_joined: Vec<Uuid>,
}

/// One `/deliver` in progress, building its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryRun {
    answer: Delivered,
}

impl DeliveryRun {
    /// `None` for a delivery core signed whose signature this gateway has
    /// seen already (a replay, answered 401); a Room's is never signed.
    pub fn admit(delivery: &Delivery, replays: &mut ReplayGuard, now_ms: u64) -> Option<Self> {
        match &delivery.signature {
            Some(signature) if !replays.first_sight(signature, now_ms) => None,
            _ => Some(Self::default()),
        }
    }

    /// A frame was written to a socket.
    pub fn frame_sent(&mut self) {
        self.answer.frames = self.answer.frames.saturating_add(1);
    }

    /// What to act on after a socket was evicted: its presence changes, but
    /// no unsubscribe (the Room reads `not_joined` from this answer).
    pub fn evicted(&self, transitions: Transitions) -> Transitions {
        Transitions {
            unsubscribe: Vec::new(),
            ..transitions
        }
    }

    /// An item is done (frames, evictions, closes): a Room item whose
    /// conversation has no joined socket here now is named in `not_joined`.
    pub fn item_done(&mut self, item: &DeliveryItem, index: &SocketIndex) {
        if let DeliveryItem::Room {
            conversation_id, ..
        } = item
        {
            let not_joined = &mut self.answer.not_joined;
            if index.joined_sockets(conversation_id) == 0 && !not_joined.contains(conversation_id) {
                not_joined.push(*conversation_id);
            }
        }
    }

    pub fn answer(self) -> Delivered {
        self.answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::session::SessionState;

    fn conv() -> Uuid {
        Uuid::from_u128(7)
    }

    fn joined(id: &str, user: &str) -> SessionState {
        let mut s = SessionState::new(id, None, 0);
        s.on_authenticated("/messaging", user);
        s.on_join_confirmed(None, conv());
        s
    }

    fn room_item(frame: &str, evict_user: Option<&str>) -> DeliveryItem {
        DeliveryItem::Room {
            conversation_id: conv(),
            frame: Some(frame.into()),
            namespace: "/messaging".into(),
            exclude_user: None,
            evict_user: evict_user.map(str::to_owned),
            notify: None,
            removal_epoch: None,
        }
    }

    /// Runs a delivery the way the gateway's glue does, over real sessions
    /// and index: the frames written, the transitions acted on, the answer.
    fn run(
        delivery: &Delivery,
        sessions: &mut [SessionState],
        index: &mut SocketIndex,
    ) -> (Vec<(String, String)>, Vec<Transitions>, Delivered) {
        let mut run = DeliveryRun::default();
        let (mut written, mut acted) = (Vec::new(), Vec::new());
        for item in &delivery.items {
            let plan = index.plan(item);
            for (sid, frame) in &plan.sends {
                written.push((sid.clone(), frame.to_string()));
                run.frame_sent();
            }
            for (sid, conversation_id) in &plan.evict {
                let s = sessions.iter_mut().find(|s| s.session_id == *sid).unwrap();
                s.on_evicted(*conversation_id);
                acted.push(run.evicted(index.upsert(sid, s)));
            }
            run.item_done(item, index);
        }
        (written, acted, run.answer())
    }

    #[test]
    fn an_evicted_user_gets_the_frame_then_leaves_and_the_room_is_told_in_the_answer() {
        let mut sessions = vec![joined("a1", "alice"), joined("b1", "bob")];
        let mut index = SocketIndex::rebuild(&sessions);
        let removal = Delivery {
            signature: None,
            gateway: None,
            items: vec![room_item("R", Some("bob"))],
        };
        let (written, acted, answer) = run(&removal, &mut sessions, &mut index);
        assert_eq!(
            written,
            [("a1".into(), "R".into()), ("b1".into(), "R".into())]
        );
        assert_eq!(
            acted,
            [Transitions::default()],
            "bob's socket left; alice's holds the room"
        );
        assert_eq!(
            answer,
            Delivered {
                frames: 2,
                not_joined: vec![]
            }
        );

        let alice_leaves = Delivery {
            signature: None,
            gateway: None,
            items: vec![room_item("S", Some("alice")), room_item("T", None)],
        };
        let (written, acted, answer) = run(&alice_leaves, &mut sessions, &mut index);
        assert_eq!(written, [("a1".into(), "S".into())]);
        assert_eq!(
            acted,
            [Transitions::default()],
            "the last joined socket left: no unsubscribe on the side"
        );
        assert_eq!(
            answer,
            Delivered {
                frames: 1,
                not_joined: vec![conv()]
            },
            "named once, for the Room to stop"
        );
    }

    #[test]
    fn a_room_event_reaches_a_socket_verified_at_its_removal_epoch_or_later() {
        use Admission::*;
        assert_eq!(admission(0, None, None, Some("a")), Pass, "unstamped");
        assert_eq!(admission(3, Some(3), None, Some("a")), Pass);
        assert_eq!(admission(4, Some(3), None, Some("a")), Pass);
        assert_eq!(admission(2, Some(3), None, Some("a")), Check);
        assert_eq!(admission(2, Some(3), Some("b"), Some("a")), Advance(3));
        assert_eq!(admission(1, Some(3), Some("b"), Some("a")), Check);
        assert_eq!(
            admission(1, Some(3), Some("a"), Some("a")),
            Pass,
            "the removed user hears of their own removal, then leaves"
        );
    }

    #[test]
    fn core_s_deliveries_are_admitted_once_and_a_room_s_always() {
        let mut replays = ReplayGuard::default();
        let signed = Delivery {
            signature: Some("sig".into()),
            gateway: None,
            items: vec![],
        };
        assert!(DeliveryRun::admit(&signed, &mut replays, 0).is_some());
        assert!(
            DeliveryRun::admit(&signed, &mut replays, 1).is_none(),
            "a replay"
        );
        let from_room = Delivery {
            signature: None,
            gateway: None,
            items: vec![],
        };
        assert!(DeliveryRun::admit(&from_room, &mut replays, 1).is_some());
        assert!(DeliveryRun::admit(&from_room, &mut replays, 2).is_some());
    }

    #[test]
    fn items_have_a_compact_tagged_wire_form() {
        let item = DeliveryItem::Users {
            user_ids: vec!["bob".into()],
            namespace: "/messaging".into(),
            frame: "42/messaging,[\"x\"]".into(),
            close: false,
        };
        let json = serde_json::to_string(&item).unwrap();
        assert!(json.starts_with(r#"{"users":{"#), "{json}");
        assert_eq!(serde_json::from_str::<DeliveryItem>(&json).unwrap(), item);
        let room = DeliveryItem::Room {
            conversation_id: Uuid::nil(),
            frame: None,
            namespace: "/messaging".into(),
            exclude_user: None,
            evict_user: None,
            notify: None,
            removal_epoch: None,
        };
        let json = serde_json::to_string(&room).unwrap();
        assert_eq!(
            json,
            r#"{"room":{"conversation_id":"00000000-0000-0000-0000-000000000000","namespace":"/messaging"}}"#
        );
    }
}
