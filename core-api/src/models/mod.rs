//! Database rows and their conversion to wire types.

pub mod call;
pub mod call_state;
pub mod conversation;
pub mod file;
pub mod message;
pub mod poll;
pub mod reaction;
pub mod search;
pub mod settings;
pub mod user;

pub use user::AuthUser;
