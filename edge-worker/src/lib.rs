//! Edge worker: the Cloudflare Worker and its Durable Objects, laid out by
//! object. Each folder holds plain Rust that takes inputs and returns what
//! to do (frames for sockets, calls to core, objects to notify, what to
//! store), tested natively (`cargo test -p edge-worker`), and a `glue`
//! module, compiled for wasm32 only, that performs it.
//!
//! - `protocol/`: Engine.IO v4 and Socket.IO v5 codecs, the heartbeat, protocol errors.
//! - `gateway/`: the Gateway object holding the WebSockets (sessions, frame
//!   → action dispatch, joins, typing, deliveries, sends to core, presence).
//! - `room/`: the Room object of one conversation (its gateways, in-order release).
//! - `front_door/`: the Worker's fetch handler (handshake and CORS verdicts,
//!   routing to gateways, core and Rooms).
//! - `common/`: ordered queues, the replay guard, object counters.
//! - `runtime/` (wasm32 only): configuration, HTTP, calls to core, JWT
//!   verification, object stubs, for every glue module.

pub mod common;
pub mod front_door;
pub mod gateway;
pub mod protocol;
pub mod room;
#[cfg(target_arch = "wasm32")]
mod runtime;
