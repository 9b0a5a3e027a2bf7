//! What a Gateway object is asked to deliver, by a Room (room events) or by
//! the Worker (user-addressed events from core), and `OrderedQueues`: the
//! per-target queues that keep work in order and batch it under load (a
//! Room's deliveries per gateway, a socket's sends to core).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
        /// Online members on this gateway whose sockets have not joined the
        /// room get `frame` of `notify` instead (on `/notifications`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notify: Option<Notify>,
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
    pub user_ids: Vec<String>,
    pub namespace: String,
    /// `None` on a gateway that also gets the room `frame`: the notification
    /// is that frame in `namespace` (the gateway swaps the namespace), so the
    /// event is not carried and parsed twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// The body of a gateway's `/deliver`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Core's signature when the Worker forwards core's events directly, for
    /// the replay check; `None` from a Room (objects are not reachable from outside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
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

/// Per-target ordered queues with one piece of work in flight per target.
/// Items that queue up meanwhile go together in the next batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedQueues<T> {
    queues: BTreeMap<String, VecDeque<T>>,
    busy: BTreeSet<String>,
}

impl<T> OrderedQueues<T> {
    pub fn new() -> Self {
        Self {
            queues: BTreeMap::new(),
            busy: BTreeSet::new(),
        }
    }

    /// Queues an item. Returns true when the target was idle: the caller must
    /// start a delivery loop for it (`take` until it returns `None`).
    pub fn push(&mut self, target: &str, item: T) -> bool {
        self.queues
            .entry(target.to_owned())
            .or_default()
            .push_back(item);
        self.busy.insert(target.to_owned())
    }

    /// The next batch (at most `max` items) for a target, in order; `None`
    /// when its queue is empty, which also marks it idle.
    pub fn take(&mut self, target: &str, max: usize) -> Option<Vec<T>> {
        let queue = self.queues.get_mut(target);
        let batch: Vec<T> = match queue {
            Some(q) => {
                let n = q.len().min(max.max(1));
                q.drain(..n).collect()
            }
            None => Vec::new(),
        };
        if batch.is_empty() {
            self.queues.remove(target);
            self.busy.remove(target);
            return None;
        }
        Some(batch)
    }

    /// Drops what is queued for a target (its socket closed); returns it.
    pub fn discard(&mut self, target: &str) -> Vec<T> {
        self.queues
            .remove(target)
            .map(Vec::from)
            .unwrap_or_default()
    }

    pub fn queued(&self, target: &str) -> usize {
        self.queues.get(target).map_or(0, VecDeque::len)
    }

    pub fn is_busy(&self, target: &str) -> bool {
        self.busy.contains(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delivery_in_flight_per_target_and_batches_in_order() {
        let mut q = OrderedQueues::new();
        assert!(q.push("gw-a", 1), "idle: start a loop");
        assert!(!q.push("gw-a", 2), "busy: the running loop takes it");
        assert!(q.push("gw-b", 10), "targets are independent");
        assert_eq!(q.take("gw-a", 100), Some(vec![1, 2]));
        q.push("gw-a", 3);
        q.push("gw-a", 4);
        q.push("gw-a", 5);
        assert_eq!(q.take("gw-a", 2), Some(vec![3, 4]));
        assert_eq!(q.take("gw-a", 2), Some(vec![5]));
        assert!(q.is_busy("gw-a"));
        assert_eq!(q.take("gw-a", 2), None);
        assert!(!q.is_busy("gw-a"));
        assert!(q.push("gw-a", 6), "idle again");
        assert_eq!(
            q.take("gw-b", 0),
            Some(vec![10]),
            "max 0 still makes progress"
        );
    }

    #[test]
    fn discard_empties_a_target() {
        let mut q = OrderedQueues::new();
        q.push("s1", "a");
        q.push("s1", "b");
        assert_eq!(q.queued("s1"), 2);
        assert_eq!(q.discard("s1"), ["a", "b"]);
        assert_eq!(q.queued("s1"), 0);
        assert_eq!(q.take("s1", 10), None);
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
        };
        let json = serde_json::to_string(&room).unwrap();
        assert_eq!(
            json,
            r#"{"room":{"conversation_id":"00000000-0000-0000-0000-000000000000","namespace":"/messaging"}}"#
        );
    }
}
