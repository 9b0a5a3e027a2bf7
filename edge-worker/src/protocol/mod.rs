//! The wire protocols, as published: Engine.IO v4 and Socket.IO v5 text
//! codecs (WebSocket frames and HTTP long-polling payloads), the Engine.IO heartbeat, and the one
//! error type of the codecs. Frames in, packets out; no I/O.

pub mod engineio;
pub mod error;
pub mod heartbeat;
pub mod polling;
pub mod socketio;

pub use error::ProtocolError;
