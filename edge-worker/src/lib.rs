//! Edge worker: the protocol core of the Cloudflare Worker, as plain Rust
//! that is tested natively (`cargo test -p edge-worker`).
//!
//! - `engineio`, `socketio`: Engine.IO v4 / Socket.IO v5 text codecs (WebSocket only).
//! - `heartbeat`: server-driven pings as an alarm-driven state machine.
//! - `rate_guard`: the per-socket GCRA message-rate guard.
//! - `session_state` + `dispatch` (+ `events`): the Session object's per-socket
//!   state (kept in the WebSocket attachment) and frame → `Action` logic.
//! - `room`: the Room object's joined sessions and in-order (`seq`) delivery.
//! - `user_registry`: the User object's live sessions and presence.
//!
//! None of these modules touch `worker::*`; the Durable Object glue builds on them.

pub mod dispatch;
pub mod engineio;
pub mod events;
pub mod heartbeat;
pub mod jwks_gate;
pub mod protocol_error;
pub mod rate_guard;
pub mod replay_guard;
pub mod room;
pub mod session_state;
pub mod socketio;
pub mod user_registry;

#[cfg(target_arch = "wasm32")]
mod glue;

pub use dispatch::{
    ack_frames, not_a_member, AckHandle, Action, AlarmAction, Authenticated, Cleanup, Opened,
};
pub use protocol_error::ProtocolError;
pub use session_state::SessionState;
