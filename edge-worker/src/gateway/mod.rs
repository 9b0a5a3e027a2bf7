//! The Gateway object: many WebSockets near their clients. Each socket's
//! state is its attachment (`session`), its frames become `Action`s
//! (`dispatch`, with `events` and `calls`), and the gateway as a whole keeps
//! indexes over its sockets (`index`), batches sends to core (`sends`) and
//! presence reports (`presence`), and answers deliveries (`delivery`).
//! Everything here is plain Rust tested natively; `glue` (wasm32 only) is
//! the Durable Object that runs it.

pub mod calls;
pub mod delivery;
pub mod dispatch;
pub mod events;
pub mod index;
pub mod join;
pub mod names;
pub mod presence;
pub mod rate_guard;
pub mod sends;
pub mod session;
pub mod subscriptions;
pub mod typing;

#[cfg(target_arch = "wasm32")]
mod glue;
