//! The knobs a test turns while the stand-in runs: outage, delay, the user
//! directory, and per-route request counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use serde::Serialize;
use shared_types::api::UserProfile;

/// The seeded named users: (id, display name).
pub const SEEDED_USERS: [(&str, &str); 6] = [
    ("alice", "Alice Anderson"),
    ("bob", "Bob Brown"),
    ("carol", "Carol Clark"),
    ("dave", "Dave Davis"),
    ("erin", "Erin Evans"),
    ("frank", "Frank Foster"),
];

/// Number of `load-NNN` users seeded for load tests (`load-001` ..= `load-1000`):
/// enough for `scripts/bench-bigroom.sh`'s 1,000 online users, one socket each.
pub const LOAD_USERS: usize = 1_000;

/// The profile the stand-in serves for a seeded-style user.
pub fn profile(id: &str, display_name: &str) -> UserProfile {
    UserProfile {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        email: Some(format!("{id}@example.test")),
        avatar_url: None,
    }
}

/// The full seed: the six named users and `load-001`..`load-1000`.
pub fn seed_users() -> Vec<UserProfile> {
    let named = SEEDED_USERS.iter().map(|(id, name)| profile(id, name));
    let load =
        (1..=LOAD_USERS).map(|n| profile(&format!("load-{n:03}"), &format!("Load User {n:03}")));
    named.chain(load).collect()
}

/// A counted route of the stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /users/{id}`
    User,
    /// `POST /users/batch`
    UsersBatch,
    /// `GET /.well-known/jwks.json`
    Jwks,
    /// `POST /dev/token` and `GET /dev/token/{sub}`
    DevToken,
}

impl Route {
    const ALL: [Route; 5] = [
        Route::Health,
        Route::User,
        Route::UsersBatch,
        Route::Jwks,
        Route::DevToken,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Shared, lock-free where it matters. Held as `Arc<Controls>` by the server
/// and by the test that started it.
#[derive(Debug, Default)]
pub struct Controls {
    down: AtomicBool,
    delay_ms: AtomicU64,
    counters: [AtomicU64; Route::ALL.len()],
    batch_ids: AtomicU64,
    users: RwLock<BTreeMap<String, UserProfile>>,
}

/// A snapshot of the counters and switches, as `GET /__control/stats` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub down: bool,
    pub delay_ms: u64,
    pub health: u64,
    pub user: u64,
    pub users_batch: u64,
    pub batch_ids: u64,
    pub jwks: u64,
    pub dev_token: u64,
    pub users_known: usize,
}

impl Controls {
    /// Controls with the standard seed of users.
    pub fn seeded() -> Self {
        let controls = Self::default();
        for user in seed_users() {
            controls.add_user(user);
        }
        controls
    }

    /// Outage switch: while down, `/health` and the user routes answer 503.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Delay applied before `/health` and the user routes answer (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::SeqCst))
    }

    /// Requests that reached `route` so far, whatever they were answered.
    pub fn requests(&self, route: Route) -> u64 {
        self.counters[route.index()].load(Ordering::SeqCst)
    }

    /// Sum of the ids asked for across all `POST /users/batch` calls.
    pub fn batch_ids_requested(&self) -> u64 {
        self.batch_ids.load(Ordering::SeqCst)
    }

    /// Sets every counter back to zero (switches and users are kept).
    pub fn reset_counters(&self) {
        for counter in &self.counters {
            counter.store(0, Ordering::SeqCst);
        }
        self.batch_ids.store(0, Ordering::SeqCst);
    }

    pub(crate) fn count(&self, route: Route) {
        self.counters[route.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_batch_ids(&self, n: usize) {
        self.batch_ids.fetch_add(n as u64, Ordering::SeqCst);
    }

    /// Adds a user, or replaces the profile of an existing one.
    pub fn add_user(&self, user: UserProfile) {
        self.users_mut().insert(user.id.clone(), user);
    }

    /// Removes a user; true when it existed.
    pub fn remove_user(&self, id: &str) -> bool {
        self.users_mut().remove(id).is_some()
    }

    pub fn user(&self, id: &str) -> Option<UserProfile> {
        self.users_ref().get(id).cloned()
    }

    pub fn user_exists(&self, id: &str) -> bool {
        self.users_ref().contains_key(id)
    }

    /// Profiles of the known ids, in the order asked, each at most once.
    pub fn users(&self, ids: &[String]) -> Vec<UserProfile> {
        let users = self.users_ref();
        let mut seen = std::collections::HashSet::new();
        ids.iter()
            .filter(|id| seen.insert(id.as_str()))
            .filter_map(|id| users.get(id).cloned())
            .collect()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            down: self.is_down(),
            delay_ms: self.delay_ms.load(Ordering::SeqCst),
            health: self.requests(Route::Health),
            user: self.requests(Route::User),
            users_batch: self.requests(Route::UsersBatch),
            batch_ids: self.batch_ids_requested(),
            jwks: self.requests(Route::Jwks),
            dev_token: self.requests(Route::DevToken),
            users_known: self.users_ref().len(),
        }
    }

    // A panic while holding the lock cannot leave the map half-written
    // (every operation is a single insert/remove), so poisoning is ignored.
    fn users_ref(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, UserProfile>> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn users_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, UserProfile>> {
        self.users.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_has_named_and_load_users() {
        let controls = Controls::seeded();
        let alice = controls.user("alice").unwrap();
        assert_eq!(alice.display_name, "Alice Anderson");
        assert_eq!(alice.email.as_deref(), Some("alice@example.test"));
        assert_eq!(alice.avatar_url, None);
        assert!(controls.user_exists("frank"));
        assert!(controls.user_exists("load-001"));
        assert!(controls.user_exists("load-500"));
        assert!(controls.user_exists("load-1000"));
        assert!(!controls.user_exists("load-1001"));
        assert_eq!(controls.stats().users_known, 6 + LOAD_USERS);
    }

    #[test]
    fn batch_lookup_keeps_order_skips_unknown_and_duplicates() {
        let controls = Controls::seeded();
        let ids: Vec<String> = ["carol", "nobody", "alice", "carol"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let found: Vec<String> = controls.users(&ids).into_iter().map(|u| u.id).collect();
        assert_eq!(found, ["carol", "alice"]);
    }

    #[test]
    fn counters_switches_and_runtime_users() {
        let controls = Controls::seeded();
        controls.count(Route::User);
        controls.count(Route::User);
        controls.count_batch_ids(3);
        assert_eq!(controls.requests(Route::User), 2);
        assert_eq!(controls.requests(Route::Health), 0);
        assert_eq!(controls.batch_ids_requested(), 3);
        controls.reset_counters();
        assert_eq!(controls.requests(Route::User), 0);
        assert_eq!(controls.batch_ids_requested(), 0);

        controls.set_down(true);
        controls.set_delay(Duration::from_millis(250));
        assert!(controls.is_down());
        assert_eq!(controls.delay(), Duration::from_millis(250));

        controls.add_user(profile("zed", "Zed Zimmer"));
        assert!(controls.user_exists("zed"));
        assert!(controls.remove_user("zed"));
        assert!(!controls.remove_user("zed"));
    }
}
