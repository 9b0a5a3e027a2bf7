//! SQL only: no rules, no authorization, no caching.

pub mod calls;
pub mod conversations;
pub mod files;
pub mod members;
pub mod messages;
pub mod polls;
pub mod reactions;
pub mod receipts;
pub mod sends;
pub mod users;
