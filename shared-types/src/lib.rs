//! Wire types shared by the edge, core and clients. Serde only: no I/O, no
//! runtime, so the same definitions compile natively and for wasm32.

pub mod api;
pub mod calls;
pub mod envelope;
pub mod error;
pub mod files;
pub mod ids;
pub mod internal;
pub mod limits;
pub mod origins;
pub mod percent;
pub mod polls;
pub mod push;
pub mod reactions;
pub mod search;
pub mod settings;
pub mod socket;
pub mod sync;
pub mod webhooks;

pub use envelope::{ApiErrorBody, Envelope, Pagination};
pub use error::ErrorCode;
pub use ids::TmsUserId;
