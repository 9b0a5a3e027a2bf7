//! What a Room object is asked: subscription changes and typing relays from
//! gateways, and core's events (through the Worker). JSON bodies between
//! objects.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shared_types::internal::FanoutEvent;
use uuid::Uuid;

use crate::gateway::delivery::DeliveryItem;
use crate::gateway::join::EvictedUser;

/// A gateway's first socket joined a conversation (`subscribed: true`) or
/// its last one left. `version` increases with every change of that
/// gateway, so the Room can ignore one that arrives late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub conversation_id: Uuid,
    pub gateway: String,
    pub version: u64,
}

/// The Room's answer to a subscription: the users it evicted lately, by
/// age, so a join in progress on that gateway can take itself back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeAnswer {
    pub evicted: Vec<EvictedUser>,
}

/// A typing frame from a gateway (which wrote it to its own sockets) for the
/// other gateways of the room. The Room refuses it (403) from a gateway it
/// does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    pub conversation_id: Uuid,
    pub from_gateway: String,
    pub namespace: String,
    pub frame: String,
    pub exclude_user: String,
}

impl Relay {
    /// The delivery of the relayed frame, the same for every gateway: the
    /// sending one writes it to its own sockets, the Room sends it to the others.
    /// `removal_epoch`: the newest the Room has seen on core's events, so a
    /// removed member whose eviction was lost does not see typing either.
    pub fn item(&self, removal_epoch: Option<i64>) -> DeliveryItem {
        DeliveryItem::Room {
            conversation_id: self.conversation_id,
            frame: Some(self.frame.clone()),
            namespace: self.namespace.clone(),
            exclude_user: Some(self.exclude_user.clone()),
            evict_user: None,
            notify: None,
            removal_epoch,
        }
    }
}

/// Core's event as the edge holds it: `data` is core's JSON text, which
/// frames are built around (parsing it into a value and writing it again
/// cost the Worker and the Room a share of their CPU under load).
pub type EdgeEvent = FanoutEvent<Box<RawValue>>;

/// Core's events for one Room, in order, with the signature for the replay check.
#[derive(Debug, Serialize, Deserialize)]
pub struct Publish {
    pub signature: String,
    pub events: Vec<EdgeEvent>,
}
