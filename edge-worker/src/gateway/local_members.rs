//! Which of this gateway's users are members of a conversation: who gets
//! the `/notifications` copy of its new messages here. Core's event names
//! only the gateways registered in the conversation's notify set, each with
//! its registration stamp (`NotifyGateway`); each gateway decides for its
//! own users from this cache, filled lazily with one
//! `POST /internal/v1/conversations/{id}/members/check` (the users here, at
//! most `MAX_MEMBER_CHECK_USERS` per call) and kept in memory (a woken
//! gateway starts empty).
//!
//! - **Nothing known** (start, wake, evicted from the cache): ask about
//!   every user here.
//! - **A newer removal epoch** on the event than the answer the cache holds:
//!   ask about every user here again (removed means removed).
//! - **A newer registration stamp** than the cache covers (someone arrived
//!   here, or was added while online, since): ask about the users here not
//!   known as members.
//! - Otherwise the cache answers, with no call.
//!
//! When none of the users here is a member, the gateway names the stamp back
//! to core (`NotifyPrune`) and core drops it from the set unless a newer
//! registration came since. While core does not answer, nobody here gets
//! the notification (fail closed; counted).

use std::collections::{BTreeMap, BTreeSet};

use shared_types::internal::MemberCheckAnswer;
use uuid::Uuid;

/// Most conversations whose members are kept; beyond it the least recently
/// used is forgotten (and asked again at its next message).
pub const MAX_CACHED_CONVERSATIONS: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Known {
    /// Users found members (some may have left this gateway since).
    members: BTreeSet<String>,
    /// The newest registration stamp this knowledge covers.
    stamp: u64,
    /// The removal epoch of core's answer about `members`.
    epoch: i64,
    /// The stamp this gateway last asked core to prune at.
    pruned: Option<u64>,
    used: u64,
}

/// What a notify needs before its frames can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// No user here: nobody to notify, nothing to ask (prune).
    Nobody,
    /// The cache knows: `members_here` answers.
    Known,
    /// Ask core which of `users` are members, then `learn`; `full`: the
    /// answer replaces what was known.
    Check { users: Vec<String>, full: bool },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalMembers {
    conversations: BTreeMap<Uuid, Known>,
    clock: u64,
}

impl LocalMembers {
    /// What a notify for `conversation_id`, registered here at `stamp`, with
    /// the event's removal epoch, needs given the users here now (sorted;
    /// read only when a check is needed: most messages need none).
    pub fn need(
        &self,
        conversation_id: &Uuid,
        stamp: u64,
        event_epoch: Option<i64>,
        users_here: impl FnOnce() -> Vec<String>,
    ) -> Need {
        let known = self
            .conversations
            .get(conversation_id)
            .filter(|k| event_epoch.is_none_or(|e| e <= k.epoch));
        let Some(known) = known else {
            let users = users_here();
            if users.is_empty() {
                return Need::Nobody;
            }
            return Need::Check { users, full: true };
        };
        if stamp <= known.stamp {
            return Need::Known;
        }
        let users: Vec<String> = users_here()
            .into_iter()
            .filter(|u| !known.members.contains(u))
            .collect();
        if users.is_empty() {
            return Need::Known;
        }
        Need::Check { users, full: false }
    }

    /// Core answered a `Need::Check` (its chunks' answers merged: members
    /// joined, the lowest epoch) for a notify at `stamp`.
    pub fn learn(
        &mut self,
        conversation_id: Uuid,
        stamp: u64,
        full: bool,
        answer: MemberCheckAnswer,
    ) {
        self.clock += 1;
        let used = self.clock;
        let known = self.conversations.entry(conversation_id).or_default();
        if full {
            known.members = answer.members.into_iter().collect();
            known.epoch = answer.removal_epoch;
        } else {
            // the members known before were checked at the older epoch: an
            // event past it asks about everyone again
            known.members.extend(answer.members);
        }
        known.stamp = known.stamp.max(stamp);
        known.used = used;
        if self.conversations.len() > MAX_CACHED_CONVERSATIONS {
            let oldest = self
                .conversations
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.conversations.remove(&id);
            }
        }
    }

    /// The known members that are here (`is_here`), in order (empty when
    /// nothing is known). O(members known here), not O(sockets here).
    pub fn members_here(
        &mut self,
        conversation_id: &Uuid,
        is_here: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        self.clock += 1;
        let used = self.clock;
        let Some(known) = self.conversations.get_mut(conversation_id) else {
            return Vec::new();
        };
        known.used = used;
        known
            .members
            .iter()
            .filter(|u| is_here(u))
            .cloned()
            .collect()
    }

    /// Whether to ask core to prune this gateway at `stamp` (once per stamp).
    pub fn prune_once(&mut self, conversation_id: Uuid, stamp: u64) -> bool {
        let known = self.conversations.entry(conversation_id).or_default();
        if known.pruned == Some(stamp) {
            return false;
        }
        known.pruned = Some(stamp);
        true
    }

    /// A member was removed (an eviction delivered here).
    pub fn removed(&mut self, conversation_id: &Uuid, user: &str) {
        if let Some(known) = self.conversations.get_mut(conversation_id) {
            known.members.remove(user);
        }
    }

    pub fn len(&self) -> usize {
        self.conversations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
    }
}

#[cfg(test)]
mod tests;
