//! The User object's registry of one user's live sessions (multi-device) and
//! the presence that follows from it: online with the first session, offline
//! only after the last one has been gone for a grace period, so a reconnect
//! (page reload, network switch) does not flap presence. Clock injected;
//! serializable for Durable Object storage.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub const DEFAULT_OFFLINE_GRACE_MS: u64 = 10_000;

/// A presence transition for the glue to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceChange {
    /// Nothing to announce.
    None,
    /// Announce `user_online` and tell core.
    BecameOnline,
    /// The last session left: set the alarm to `at_ms` (re-arm if woken early).
    OfflineScheduled { at_ms: u64 },
    /// Announce `user_offline` and tell core.
    BecameOffline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistry {
    sessions: BTreeSet<String>,
    online: bool,
    /// Set while the user has no session but is still shown online.
    offline_at_ms: Option<u64>,
    grace_ms: u64,
}

impl Default for UserRegistry {
    fn default() -> Self {
        Self::new(DEFAULT_OFFLINE_GRACE_MS)
    }
}

impl UserRegistry {
    pub fn new(grace_ms: u64) -> Self {
        Self {
            sessions: BTreeSet::new(),
            online: false,
            offline_at_ms: None,
            grace_ms,
        }
    }

    pub fn register(&mut self, session_id: &str) -> PresenceChange {
        self.sessions.insert(session_id.to_owned());
        // a reconnect within the grace period cancels the pending offline
        self.offline_at_ms = None;
        if self.online {
            PresenceChange::None
        } else {
            self.online = true;
            PresenceChange::BecameOnline
        }
    }

    pub fn unregister(&mut self, session_id: &str, now_ms: u64) -> PresenceChange {
        if !self.sessions.remove(session_id) || !self.sessions.is_empty() {
            return PresenceChange::None;
        }
        let at_ms = now_ms.saturating_add(self.grace_ms);
        self.offline_at_ms = Some(at_ms);
        PresenceChange::OfflineScheduled { at_ms }
    }

    pub fn on_alarm(&mut self, now_ms: u64) -> PresenceChange {
        match self.offline_at_ms {
            // unreachable through the API (register clears it); heal rather than go offline
            Some(_) if !self.sessions.is_empty() => {
                self.offline_at_ms = None;
                PresenceChange::None
            }
            Some(at_ms) if now_ms < at_ms => PresenceChange::OfflineScheduled { at_ms },
            Some(_) => {
                self.offline_at_ms = None;
                self.online = false;
                PresenceChange::BecameOffline
            }
            None => PresenceChange::None,
        }
    }

    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Live sessions, to deliver user-addressed events to every device.
    pub fn sessions(&self) -> impl Iterator<Item = &str> + '_ {
        self.sessions.iter().map(String::as_str)
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// When the alarm must fire, if an offline transition is pending.
    pub fn next_alarm_at(&self) -> Option<u64> {
        self.offline_at_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_session_brings_the_user_online_once() {
        let mut r = UserRegistry::default();
        assert!(!r.is_online());
        assert_eq!(r.register("phone"), PresenceChange::BecameOnline);
        assert_eq!(r.register("web"), PresenceChange::None);
        assert_eq!(r.register("web"), PresenceChange::None);
        assert_eq!(r.session_count(), 2);
        assert_eq!(r.sessions().collect::<Vec<_>>(), ["phone", "web"]);
    }

    #[test]
    fn offline_only_after_the_last_session_and_the_grace_period() {
        let mut r = UserRegistry::new(10_000);
        r.register("phone");
        r.register("web");
        assert_eq!(r.unregister("phone", 1_000), PresenceChange::None);
        assert_eq!(
            r.unregister("web", 2_000),
            PresenceChange::OfflineScheduled { at_ms: 12_000 }
        );
        assert!(r.is_online(), "still online during the grace period");
        assert_eq!(r.next_alarm_at(), Some(12_000));
        assert_eq!(
            r.on_alarm(11_999),
            PresenceChange::OfflineScheduled { at_ms: 12_000 }
        );
        assert_eq!(r.on_alarm(12_000), PresenceChange::BecameOffline);
        assert!(!r.is_online());
        assert_eq!(r.next_alarm_at(), None);
        assert_eq!(r.on_alarm(20_000), PresenceChange::None);
    }

    #[test]
    fn reconnect_within_grace_cancels_the_offline() {
        let mut r = UserRegistry::new(10_000);
        r.register("old");
        r.unregister("old", 0);
        assert_eq!(
            r.register("new"),
            PresenceChange::None,
            "never went offline, so no new online"
        );
        assert_eq!(r.on_alarm(10_000), PresenceChange::None);
        assert!(r.is_online());
    }

    #[test]
    fn back_online_after_going_offline() {
        let mut r = UserRegistry::new(10);
        r.register("a");
        r.unregister("a", 0);
        assert_eq!(r.on_alarm(10), PresenceChange::BecameOffline);
        assert_eq!(r.register("a"), PresenceChange::BecameOnline);
    }

    #[test]
    fn unknown_sessions_change_nothing() {
        let mut r = UserRegistry::default();
        assert_eq!(r.unregister("ghost", 0), PresenceChange::None);
        r.register("a");
        assert_eq!(r.unregister("ghost", 0), PresenceChange::None);
        assert_eq!(
            r.unregister("a", u64::MAX),
            PresenceChange::OfflineScheduled { at_ms: u64::MAX }
        );
    }

    #[test]
    fn survives_serde() {
        let mut r = UserRegistry::default();
        r.register("a");
        r.unregister("a", 5);
        let back: UserRegistry = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
