//! Edge worker: the protocol core of the Cloudflare Worker, as plain Rust
//! that is tested natively (`cargo test -p edge-worker`).
//!
//! - `engineio`, `socketio`: Engine.IO v4 / Socket.IO v5 text codecs (WebSocket only).
//! - `heartbeat`: one ping round per gateway; liveness from the runtime's pong auto-response.
//! - `rate_guard`: the per-socket GCRA message-rate guard.
//! - `session_state` + `dispatch` (+ `events`): one socket's state (kept in
//!   its WebSocket attachment) and frame → `Action` logic, run per socket
//!   inside a Gateway object.
//! - `calls`: `/calls` events checked into the requests that carry them to core.
//! - `socket_index`: a Gateway's conversation → sockets and user → sockets indexes.
//! - `delivery`: what gateways are asked to deliver, and ordered per-target queues.
//! - `room`: the Room object's gateway set and in-order (`seq`) release.
//! - `presence_batch`: a Gateway's batched presence reports to core.
//! - `gateway_name`: gateway names, session ids and shard choice.
//! - `stats`: the counters each object keeps about itself.
//! - `front_door`: the Worker's handshake and CORS verdicts on a request.
//!
//! None of these modules touch `worker::*`; the Durable Object glue builds on them.

pub mod calls;
pub mod delivery;
pub mod dispatch;
pub mod events;
pub mod front_door;
pub mod gateway_name;
pub mod presence_batch;
pub mod protocol;
pub mod rate_guard;
pub mod replay_guard;
pub mod room;
pub mod send_batch;
pub mod session_state;
pub mod socket_index;
pub mod stats;

#[cfg(target_arch = "wasm32")]
mod glue;

pub use dispatch::{ack_frames, not_a_member, AckHandle, Action, Authenticated, Cleanup, Opened};
pub use protocol::ProtocolError;
pub use session_state::SessionState;
