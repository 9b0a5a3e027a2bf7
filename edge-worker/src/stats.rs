//! What each object counts about itself, for the benchmark and for ops
//! (`POST /internal/v1/stats`, signed; and one log line per object at most
//! once a minute, readable with `wrangler tail`). Counters live in memory
//! since the object was created; `instance` changes when it is re-created.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectCounters {
    /// Random per object life: a change means the counters restarted.
    pub instance: String,
    /// `fetch` calls (object requests), the stats calls themselves excluded.
    pub requests: u64,
    pub alarms: u64,
    /// Storage puts and deletes, and `set_alarm` calls (billed as writes).
    pub storage_writes: u64,
    /// `websocket_message` calls (gateways): Rust woken by a client frame.
    pub ws_messages: u64,
    /// Sockets held now (gateways).
    pub sockets: u64,
    /// Frames written to sockets (gateways).
    pub frames_sent: u64,
    /// Events accepted from core (rooms).
    pub events: u64,
}

/// Body of `POST /internal/v1/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRequest {
    #[serde(default)]
    pub gateways: Vec<String>,
    #[serde(default)]
    pub conversations: Vec<uuid::Uuid>,
}

/// Answer of `POST /internal/v1/stats`: counters by gateway name and by conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    pub gateways: std::collections::BTreeMap<String, ObjectCounters>,
    pub rooms: std::collections::BTreeMap<uuid::Uuid, ObjectCounters>,
}
