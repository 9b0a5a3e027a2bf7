//! Addressing the Durable Objects and the small JSON messages between them.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use shared_types::internal::FanoutEvent;
use uuid::Uuid;
use worker::{Env, Stub};

/// A gateway's first socket joined a conversation (`subscribed: true`) or
/// its last one left. `version` increases with every change of that
/// gateway, so the Room can ignore one that arrives late.
#[derive(Debug, Serialize, Deserialize)]
pub struct Subscription {
    pub conversation_id: Uuid,
    pub gateway: String,
    pub version: u64,
}

/// A typing frame from a gateway (which wrote it to its own sockets) for the
/// other gateways of the room. The Room refuses it (403) from a gateway it
/// does not list.
#[derive(Debug, Serialize, Deserialize)]
pub struct Relay {
    pub conversation_id: Uuid,
    pub from_gateway: String,
    pub namespace: String,
    pub frame: String,
    pub exclude_user: String,
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

pub fn gateway(env: &Env, name: &str) -> worker::Result<Stub> {
    env.durable_object("GATEWAY")?
        .id_from_name(name)?
        .get_stub()
}

pub fn room(env: &Env, conversation_id: &Uuid) -> worker::Result<Stub> {
    env.durable_object("ROOM")?
        .id_from_name(&conversation_id.to_string())?
        .get_stub()
}

/// `set_alarm` takes an offset from now (an `i64` of milliseconds), not a
/// time: this turns the absolute `at_ms` into one, 0 when it is past.
pub fn offset_ms(at_ms: u64, now_ms: u64) -> i64 {
    at_ms.saturating_sub(now_ms) as i64
}
