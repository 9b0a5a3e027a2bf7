//! The Gateway object: many WebSockets near their clients.
//!
//! - One socket: its state is its attachment (`session`, with its rooms and
//!   their verified removal epochs in `joined`); its frames become
//!   `Action`s (`dispatch`, parsing `events` and `calls`, with `rate_guard`).
//! - What an action takes: `join` (ask core, join, subscribe, ask again),
//!   `typing` (local sockets, then the Room's relay), `sends` (batches to
//!   core and each send's ack).
//! - A socket that starts on HTTP long-polling (`polling`): its packets
//!   wait for the next GET until it upgrades to a WebSocket.
//! - The gateway as a whole: indexes over its sockets (`index`), the Rooms
//!   it is subscribed at (`subscriptions`), presence reports (`presence`),
//!   deliveries from Rooms and core (`delivery`), which of its users are
//!   members of a conversation that notifies (`local_members`), names and
//!   shards (`names`).
//!
//! Everything here is plain Rust tested natively; `glue` (wasm32 only) is
//! the Durable Object that runs it, one file per module it runs.

pub mod calls;
pub mod delivery;
pub mod dispatch;
pub mod events;
pub mod index;
pub mod join;
pub mod joined;
pub mod local_members;
pub mod names;
pub mod polling;
pub mod presence;
pub mod rate_guard;
pub mod recovery;
pub mod sends;
pub mod session;
pub mod subscriptions;
pub mod token_life;
pub mod typing;

#[cfg(target_arch = "wasm32")]
mod glue;
