//! A Gateway object's in-memory indexes over its sockets: conversation →
//! joined sockets and user → sockets. They are derived from the sockets'
//! attachments (`SessionState`), rebuilt from them when the object wakes, and
//! updated after every attachment change. Each update reports the
//! transitions the glue acts on: the first local socket of a conversation
//! (subscribe at its Room), the last one gone (unsubscribe), the first socket
//! of a user (presence: arrived) and the last one (departed).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use uuid::Uuid;

use crate::gateway::delivery::{admission, Admission, DeliveryItem};
use crate::gateway::joined::JoinedRooms;
use crate::gateway::session::{NamespaceSet, SessionState};
use crate::protocol::socketio;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entry {
    user: Option<String>,
    namespaces: NamespaceSet,
    joined: JoinedRooms,
}

impl Entry {
    fn of(state: &SessionState) -> Self {
        if state.closed {
            return Self::default();
        }
        Self {
            user: state.tms_user_id.clone(),
            namespaces: state.namespaces,
            joined: state.joined.clone(),
        }
    }
}

/// What changed for the gateway as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    /// Conversations whose first local socket just joined.
    pub subscribe: Vec<Uuid>,
    /// Conversations whose last local socket just left.
    pub unsubscribe: Vec<Uuid>,
    /// A user whose first socket here just authenticated.
    pub arrived: Option<String>,
    /// A user whose last socket here just went.
    pub departed: Option<String>,
}

impl Transitions {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Frames to write, and sockets to evict, for one delivery. The frames
/// borrow from the delivery: one event's frame is not copied per socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan<'a> {
    /// (socket id, frame), in delivery order.
    pub sends: Vec<(String, Cow<'a, str>)>,
    /// Sockets that leave the conversation once their frames are sent.
    pub evict: Vec<(String, Uuid)>,
    /// Room items for conversations with no joined socket here.
    pub not_joined: Vec<Uuid>,
    /// Sockets to close once their frames (ending in a DISCONNECT of each of
    /// their namespaces, so clients do not reconnect) are sent.
    pub close: Vec<String>,
    /// Joined sockets whose frame waits for core to confirm their user is
    /// still a member (`delivery::Admission::Check`): (socket id, user, frame).
    pub held: Vec<(String, String, Cow<'a, str>)>,
    /// Joined sockets now verified at this removal epoch (`Admission::Advance`).
    pub advance: Vec<(String, i64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketIndex {
    /// Hash maps for the lookups made for every socket of every event (keys
    /// are the gateway's own session ids and verified user ids); the sets
    /// stay ordered, so deliveries go out in a stable order.
    sockets: FxHashMap<String, Entry>,
    by_conversation: BTreeMap<Uuid, BTreeSet<String>>,
    by_user: FxHashMap<String, BTreeSet<String>>,
}

impl SocketIndex {
    /// The index of a gateway that just woke, from its sockets' attachments.
    /// Reports nothing: Rooms and core already know this gateway's state.
    pub fn rebuild<'a>(states: impl IntoIterator<Item = &'a SessionState>) -> Self {
        let mut index = Self::default();
        for state in states {
            index.upsert(&state.session_id, state);
        }
        index
    }

    /// Records a socket's current attachment.
    pub fn upsert(&mut self, socket_id: &str, state: &SessionState) -> Transitions {
        let new = Entry::of(state);
        // most frames change nothing the index holds
        let unchanged = match self.sockets.get(socket_id) {
            Some(old) => *old == new,
            None => new == Entry::default(),
        };
        if unchanged {
            return Transitions::default();
        }
        let old = self.sockets.remove(socket_id).unwrap_or_default();
        let mut t = Transitions::default();
        for conversation in old.joined.iter().filter(|c| !new.joined.contains(c)) {
            if remove_from(&mut self.by_conversation, conversation, socket_id) {
                t.unsubscribe.push(*conversation);
            }
        }
        for conversation in new.joined.iter().filter(|c| !old.joined.contains(c)) {
            if add_to(&mut self.by_conversation, *conversation, socket_id) {
                t.subscribe.push(*conversation);
            }
        }
        if old.user != new.user {
            if let Some(user) = &old.user {
                if remove_from(&mut self.by_user, user, socket_id) {
                    t.departed = Some(user.clone());
                }
            }
            if let Some(user) = &new.user {
                if add_to(&mut self.by_user, user.clone(), socket_id) {
                    t.arrived = Some(user.clone());
                }
            }
        }
        if new != Entry::default() {
            self.sockets.insert(socket_id.to_owned(), new);
        }
        t
    }

    /// Forgets a socket that closed.
    pub fn remove(&mut self, socket_id: &str) -> Transitions {
        let closed = SessionState {
            closed: true,
            ..SessionState::new(socket_id, None, 0)
        };
        self.upsert(socket_id, &closed)
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Users with at least one authenticated socket here.
    pub fn users(&self) -> Vec<String> {
        let mut users: Vec<String> = self.by_user.keys().cloned().collect();
        users.sort();
        users
    }

    /// Whether `user` has an authenticated socket here.
    pub fn has_user(&self, user: &str) -> bool {
        self.by_user.contains_key(user)
    }

    /// Whether one more socket of `user` may authenticate here: fewer than
    /// `max` of theirs are already authenticated on this gateway.
    pub fn admits(&self, user: &str, max: usize) -> bool {
        self.by_user.get(user).map_or(0, BTreeSet::len) < max
    }

    pub fn joined_sockets(&self, conversation_id: &Uuid) -> usize {
        self.by_conversation
            .get(conversation_id)
            .map_or(0, BTreeSet::len)
    }

    /// Where the frames of one delivery go, with nobody to notify.
    pub fn plan<'a>(&self, item: &'a DeliveryItem) -> Plan<'a> {
        self.plan_with(item, &[])
    }

    /// Where the frames of one delivery go; a room item's `notify` and a
    /// members item reach `members` (this gateway's users who are members,
    /// `local_members`).
    pub fn plan_with<'a>(&self, item: &'a DeliveryItem, members: &[String]) -> Plan<'a> {
        let mut plan = Plan::default();
        match item {
            DeliveryItem::Users {
                user_ids,
                namespace,
                frame,
                close,
            } => {
                for user in user_ids {
                    for sid in self.sockets_of(user) {
                        if self.connected(sid, namespace) {
                            plan.sends
                                .push((sid.clone(), Cow::Borrowed(frame.as_str())));
                        }
                        if *close {
                            if let Some(entry) = self.sockets.get(sid) {
                                for nsp in entry.namespaces.iter() {
                                    plan.sends
                                        .push((sid.clone(), Cow::Owned(socketio::disconnect(nsp))));
                                }
                            }
                            plan.close.push(sid.clone());
                        }
                    }
                }
            }
            DeliveryItem::Members {
                namespace, frame, ..
            } => {
                for user in members {
                    for sid in self.sockets_of(user) {
                        if self.connected(sid, namespace) {
                            plan.sends
                                .push((sid.clone(), Cow::Borrowed(frame.as_str())));
                        }
                    }
                }
            }
            DeliveryItem::Room {
                conversation_id,
                frame,
                namespace,
                exclude_user,
                evict_user,
                notify,
                removal_epoch,
            } => {
                let joined = self.by_conversation.get(conversation_id);
                if joined.is_none() {
                    plan.not_joined.push(*conversation_id);
                }
                let joined_sockets = joined.into_iter().flatten();
                if let Some(frame) = frame {
                    // one lookup per socket: this loop runs for every socket of every event
                    for sid in joined_sockets.clone() {
                        let Some(entry) = self.sockets.get(sid) else {
                            continue;
                        };
                        if exclude_user.is_some() && entry.user.as_ref() == exclude_user.as_ref() {
                            continue;
                        }
                        if !entry.namespaces.contains(namespace) {
                            continue;
                        }
                        let frame = Cow::Borrowed(frame.as_str());
                        let verified = entry.joined.epoch(conversation_id);
                        let user = entry.user.as_deref();
                        match admission(verified, *removal_epoch, evict_user.as_deref(), user) {
                            Admission::Pass => plan.sends.push((sid.clone(), frame)),
                            Admission::Advance(epoch) => {
                                plan.sends.push((sid.clone(), frame));
                                plan.advance.push((sid.clone(), epoch));
                            }
                            Admission::Check => {
                                let user = user.unwrap_or_default().to_owned();
                                plan.held.push((sid.clone(), user, frame));
                            }
                        }
                    }
                }
                if let Some(notify) = notify {
                    // its own frame, or the room frame in its namespace (made once)
                    let mut notify_frame: Option<Cow<'a, str>> =
                        notify.frame.as_deref().map(Cow::Borrowed);
                    for user in members {
                        for sid in self.sockets_of(user) {
                            let in_room = joined.is_some_and(|j| j.contains(sid));
                            if in_room || !self.connected(sid, &notify.namespace) {
                                continue;
                            }
                            if notify_frame.is_none() {
                                notify_frame = frame
                                    .as_deref()
                                    .and_then(|f| {
                                        socketio::with_namespace(f, namespace, &notify.namespace)
                                    })
                                    .map(Cow::Owned);
                            }
                            if let Some(f) = &notify_frame {
                                plan.sends.push((sid.clone(), f.clone()));
                            }
                        }
                    }
                }
                if let Some(evicted) = evict_user {
                    for sid in joined_sockets {
                        let user = self.sockets.get(sid).and_then(|e| e.user.as_ref());
                        if user == Some(evicted) {
                            plan.evict.push((sid.clone(), *conversation_id));
                        }
                    }
                }
            }
        }
        plan
    }

    fn sockets_of<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a String> + 'a {
        self.by_user.get(user).into_iter().flatten()
    }

    fn connected(&self, socket_id: &str, namespace: &str) -> bool {
        self.sockets
            .get(socket_id)
            .is_some_and(|e| e.namespaces.contains(namespace))
    }
}

/// Sets of socket ids by key: the conversation index (ordered) and the user
/// index (hashed) keep their sets the same way.
trait SocketSets<K> {
    fn set_of(&mut self, key: K) -> &mut BTreeSet<String>;
    fn existing(&mut self, key: &K) -> Option<&mut BTreeSet<String>>;
    fn forget(&mut self, key: &K);
}

impl<K: Ord + Clone> SocketSets<K> for BTreeMap<K, BTreeSet<String>> {
    fn set_of(&mut self, key: K) -> &mut BTreeSet<String> {
        self.entry(key).or_default()
    }
    fn existing(&mut self, key: &K) -> Option<&mut BTreeSet<String>> {
        self.get_mut(key)
    }
    fn forget(&mut self, key: &K) {
        self.remove(key);
    }
}

impl SocketSets<String> for FxHashMap<String, BTreeSet<String>> {
    fn set_of(&mut self, key: String) -> &mut BTreeSet<String> {
        self.entry(key).or_default()
    }
    fn existing(&mut self, key: &String) -> Option<&mut BTreeSet<String>> {
        self.get_mut(key)
    }
    fn forget(&mut self, key: &String) {
        self.remove(key);
    }
}

/// Returns true when `socket` is the first under `key`.
fn add_to<K>(map: &mut impl SocketSets<K>, key: K, socket: &str) -> bool {
    let set = map.set_of(key);
    set.insert(socket.to_owned()) && set.len() == 1
}

/// Returns true when `socket` was the last under `key`.
fn remove_from<K>(map: &mut impl SocketSets<K>, key: &K, socket: &str) -> bool {
    let Some(set) = map.existing(key) else {
        return false;
    };
    if !set.remove(socket) || !set.is_empty() {
        return false;
    }
    map.forget(key);
    true
}

#[cfg(test)]
mod tests;
