//! The Room object's bookkeeping for one conversation: which gateways hold
//! sockets joined to `conversation:{id}`, and in-order delivery of
//! `seq`-numbered events, once per gateway. Its cost follows the gateways,
//! never the sockets or the member count. Only the gateway set is stored;
//! the order buffer lives in memory: a Room that starts (or restarts after
//! eviction) takes the first event's `seq` as where its conversation stands,
//! so it never holds that event behind a gap of seqs delivered long ago
//! (catch-up with `after_seq` covers what a restarted Room missed).

pub mod api;
#[cfg(target_arch = "wasm32")]
mod glue;
mod seq_buffer;

use std::collections::{BTreeMap, BTreeSet};

use shared_types::internal::NotifyGateway;
use shared_types::socket::NS_NOTIFICATIONS;
use uuid::Uuid;

use crate::gateway::delivery::{Delivered, DeliveryItem, Notify};
use crate::gateway::join::{EvictedUser, RecentEvictions};
use crate::protocol::socketio;
use api::{EdgeEvent, Relay};
pub use seq_buffer::{
    SeqBuffer, DEFAULT_MAX_HOLD_MS, MAX_HELD_EVENTS, MAX_SKIPPED_SEQS, START_LATE_WINDOW,
};

/// An event as the Room delivers it: serialised once, upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    /// The namespace `frame` is on (joined sockets must be connected to it).
    pub namespace: String,
    pub frame: String,
    /// The gateways of the conversation's notify set (with their stamps):
    /// their users who are members hear of it outside the room.
    pub notify: Vec<NotifyGateway>,
    /// The `/notifications` frame for them (set when `notify` is not empty).
    pub notify_frame: Option<String>,
    /// Once delivered, this user's sockets leave the room.
    pub evict_user: Option<String>,
    /// Core's stamp (`FanoutEvent::removal_epoch`), passed to the gateways.
    pub removal_epoch: Option<i64>,
}

impl RoomEvent {
    /// Core's event for this Room, its frames serialised once for every
    /// gateway (and the `/notifications` one only when there are gateways to
    /// notify); `notify` is the event target's.
    pub fn of(event: EdgeEvent, notify: Vec<NotifyGateway>) -> Self {
        let data = event.data.get();
        let frame = socketio::event_raw(&event.namespace, &event.event, data);
        let notify_frame =
            (!notify.is_empty()).then(|| socketio::event_raw(NS_NOTIFICATIONS, &event.event, data));
        Self {
            namespace: event.namespace,
            frame,
            notify,
            notify_frame,
            evict_user: event.evict_user_id,
            removal_epoch: event.removal_epoch,
        }
    }
}

/// Subscribed gateways → the version of their last change. A gateway
/// numbers its changes (`subscribe`, `unsubscribe`) increasingly, so one
/// that overtook an older one on the way is not undone by it.
pub type GatewaySet = BTreeMap<String, u64>;

/// One conversation's room: the gateways holding its joined sockets, and
/// ordered release of its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomState {
    gateways: GatewaySet,
    /// Versions of unsubscriptions, in memory only (a restart forgets them,
    /// which matters only for a change still on its way at that moment).
    left: BTreeMap<String, u64>,
    order: SeqBuffer<RoomEvent>,
    /// Users evicted lately (memory only), named to a gateway that subscribes.
    evictions: RecentEvictions,
    /// The newest removal epoch on core's events (memory only), stamped on
    /// typing relays, which core never sees.
    removal_epoch: Option<i64>,
}

impl RoomState {
    /// A Room that loaded its stored gateway set.
    pub fn new(gateways: GatewaySet, max_hold_ms: u64) -> Self {
        Self {
            gateways,
            left: BTreeMap::new(),
            order: SeqBuffer::new(max_hold_ms),
            evictions: RecentEvictions::default(),
            removal_epoch: None,
        }
    }

    /// The part that is stored: written only when it changes.
    pub fn gateways(&self) -> &GatewaySet {
        &self.gateways
    }

    fn latest(&self, gateway: &str) -> u64 {
        let joined = self.gateways.get(gateway).copied().unwrap_or(0);
        let left = self.left.get(gateway).copied().unwrap_or(0);
        joined.max(left)
    }

    /// A gateway's first socket joined. Returns whether the set changed.
    pub fn subscribe(&mut self, gateway: &str, version: u64) -> bool {
        if version <= self.latest(gateway) {
            return false;
        }
        self.left.remove(gateway);
        self.gateways.insert(gateway.to_owned(), version).is_none()
    }

    /// A gateway's last socket left. Returns whether the set changed.
    pub fn unsubscribe(&mut self, gateway: &str, version: u64) -> bool {
        if version <= self.latest(gateway) {
            return false;
        }
        self.left.insert(gateway.to_owned(), version);
        self.gateways.remove(gateway).is_some()
    }

    /// The users this Room evicted lately, by age: its answer to a subscription.
    pub fn recent_evictions(&self, conversation_id: Uuid, now_ms: u64) -> Vec<EvictedUser> {
        let mut evicted = self.evictions.ages(now_ms);
        for e in &mut evicted {
            e.conversation_id = conversation_id;
        }
        evicted
    }

    pub fn is_subscribed(&self, gateway: &str) -> bool {
        self.gateways.contains_key(gateway)
    }

    /// The version of a gateway's subscription, to pass to `on_delivered`
    /// with the answer to a delivery sent now.
    pub fn version_of(&self, gateway: &str) -> Option<u64> {
        self.gateways.get(gateway).copied()
    }

    /// A gateway answered a delivery (`None`: it did not). One that holds no
    /// joined socket of this conversation any more (`not_joined`) leaves the
    /// set, unless it subscribed again after the delivery left (a newer
    /// version than `version_sent`). Returns whether the stored set changed.
    ///
    /// The gateway spends no version on this leave (it sends no unsubscribe
    /// for an eviction), so its next subscription may carry `version_sent + 1`:
    /// the leave is recorded at `version_sent` itself, which that one passes.
    pub fn on_delivered(
        &mut self,
        conversation_id: Uuid,
        gateway: &str,
        version_sent: Option<u64>,
        answer: Option<&Delivered>,
    ) -> bool {
        let left = answer.is_some_and(|d| d.not_joined.contains(&conversation_id));
        match (left, version_sent) {
            (true, Some(version)) if self.gateways.get(gateway) == Some(&version) => {
                self.gateways.remove(gateway);
                self.left.insert(gateway.to_owned(), version);
                true
            }
            _ => false,
        }
    }

    /// Takes an event. `seq: Some` (new messages) are released in order and
    /// repeats dropped; `None` (edits, deletes, removals) pass straight through.
    /// Returns the events to deliver now, in order.
    pub fn publish(&mut self, seq: Option<i64>, event: RoomEvent, now_ms: u64) -> Vec<RoomEvent> {
        self.publish_ordered(seq, None, event, now_ms)
    }

    /// As `publish`; an event with `after_seq` (and no `seq` of its own)
    /// waits until the Room delivered that seq: an edit, delete, reaction or
    /// poll update never overtakes its message.
    pub fn publish_ordered(
        &mut self,
        seq: Option<i64>,
        after_seq: Option<i64>,
        event: RoomEvent,
        now_ms: u64,
    ) -> Vec<RoomEvent> {
        if let Some(user) = &event.evict_user {
            // one Room is one conversation: its evictions are keyed by user alone
            self.evictions.record(Uuid::nil(), user, now_ms);
        }
        self.removal_epoch = self.removal_epoch.max(event.removal_epoch);
        if let (None, Some(after)) = (seq, after_seq) {
            return self
                .order
                .accept_after(after, event, now_ms)
                .into_iter()
                .map(|(_, e)| e)
                .collect();
        }
        match seq {
            None => vec![event],
            Some(seq) => self
                .order
                .accept(seq, event, now_ms)
                .into_iter()
                .map(|(_, e)| e)
                .collect(),
        }
    }

    /// Events released because their gap waited too long; call at `next_flush_at`.
    pub fn flush_due(&mut self, now_ms: u64) -> Vec<RoomEvent> {
        self.order
            .flush_due(now_ms)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// When the Room object's alarm should fire for held events.
    pub fn next_flush_at(&self) -> Option<u64> {
        self.order.next_flush_at()
    }

    pub fn last_delivered_seq(&self) -> Option<i64> {
        self.order.last_delivered()
    }

    /// How many `seq` events this Room held behind a gap since it started.
    pub fn holds(&self) -> u64 {
        self.order.holds()
    }

    /// One delivery item per gateway that holds joined sockets or is in the
    /// notify set: the frame is shared, never copied per socket.
    pub fn deliveries(
        &self,
        conversation_id: Uuid,
        event: &RoomEvent,
    ) -> Vec<(String, DeliveryItem)> {
        let mut notify_by_gateway: BTreeMap<&str, u64> = BTreeMap::new();
        if event.notify_frame.is_some() {
            for entry in &event.notify {
                notify_by_gateway.insert(&entry.gateway, entry.stamp);
            }
        }
        let targets: BTreeSet<&str> = self
            .gateways
            .keys()
            .map(String::as_str)
            .chain(notify_by_gateway.keys().copied())
            .collect();
        targets
            .into_iter()
            .map(|gateway| {
                let joined = self.gateways.contains_key(gateway);
                let notify = match (notify_by_gateway.get(gateway), &event.notify_frame) {
                    (Some(stamp), Some(frame)) => Some(Notify {
                        stamp: *stamp,
                        namespace: NS_NOTIFICATIONS.to_owned(),
                        // a gateway that gets the room frame derives it
                        frame: (!joined).then(|| frame.clone()),
                    }),
                    _ => None,
                };
                let item = DeliveryItem::Room {
                    conversation_id,
                    frame: joined.then(|| event.frame.clone()),
                    namespace: event.namespace.clone(),
                    exclude_user: None,
                    evict_user: event.evict_user.clone().filter(|_| joined),
                    notify,
                    removal_epoch: event.removal_epoch,
                };
                (gateway.to_owned(), item)
            })
            .collect()
    }

    /// A typing frame from `from_gateway` (which wrote it to its own sockets
    /// already) for every other gateway in the room.
    pub fn relay_deliveries(&self, relay: &Relay) -> Vec<(String, DeliveryItem)> {
        self.gateways
            .keys()
            .filter(|g| **g != relay.from_gateway)
            .map(|gateway| (gateway.clone(), relay.item(self.removal_epoch)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
