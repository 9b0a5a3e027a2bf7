//! Business rules, authorization and caching. Routes call these; these call
//! repositories.

pub mod calls;
pub mod conversations;
pub mod decorate;
pub mod deny_list;
pub mod fanout_targets;
pub mod files;
pub mod groups;
pub mod membership;
pub mod messages;
pub mod notify_gateways;
pub mod pagination;
pub mod polls;
pub mod presence;
pub mod privacy;
pub mod push_recipients;
pub mod reactions;
pub mod reads;
pub mod receipts;
pub mod removal_epochs;
pub mod replica;
pub mod search;
pub mod settings;
pub mod socket_sends;
pub mod sync;
pub mod system_messages;
pub mod users;
pub mod webhooks;
