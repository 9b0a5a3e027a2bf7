//! SQL only: no rules, no authorization, no caching.

pub mod calls;
pub mod conversation_list;
pub mod conversations;
pub mod denied_users;
pub mod files;
pub mod members;
pub mod messages;
pub mod polls;
pub mod push;
pub mod reactions;
pub mod reads;
pub mod receipts;
pub mod removals;
pub mod replica;
pub mod search;
pub mod sends;
pub mod settings;
pub mod sync;
pub mod users;
