use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, RwLock};

use shared_auth::deny_list::DenyList;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::jwt::JwtAuthenticator;
use crate::auth::replay::LocalReplays;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::fanout::Fanout;
use crate::metrics::Metrics;
use crate::offline_push::OfflinePush;
use crate::rate_limit::RateLimiter;
use crate::receipt_queue::ReceiptQueue;
use crate::send_queue::SendQueue;
use crate::tms::TmsClient;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    /// The streaming replica (`DATABASE_READ_URL`), when set: see `services::replica`.
    pub read_db: Option<ReadReplica>,
    pub cache: Cache,
    pub tms: TmsClient,
    pub jwt: Arc<JwtAuthenticator>,
    pub clock: Arc<dyn Clock>,
    pub fanout: Fanout,
    /// New messages to members with no socket online (`PUSH_WEBHOOK_URL`).
    pub push: OfflinePush,
    pub local_users: Arc<LocalUserIds>,
    /// This replica's record of internal signatures (replay refusal while Redis is down).
    pub replays: Arc<LocalReplays>,
    /// Group commit for message sends.
    pub sends: SendQueue,
    /// Group commit for delivery and read receipts.
    pub receipts: ReceiptQueue,
    /// Per-user rate limits (Redis, shared by every replica).
    pub limits: RateLimiter,
    pub metrics: Metrics,
    /// The users TMS deleted (`services::deny_list`), this replica's copy.
    pub deny: Arc<DenyCache>,
}

/// The replica's pool, and until when reads skip it after it failed (so a
/// replica that is down costs one failed check per [`ReadReplica::BACKOFF`],
/// not one per read).
#[derive(Clone)]
pub struct ReadReplica {
    pub pool: PgPool,
    skip_until: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl ReadReplica {
    pub const BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            skip_until: Arc::default(),
        }
    }

    pub fn skipped(&self) -> bool {
        let until = self.skip_until.lock().map(|u| *u).unwrap_or(None);
        until.is_some_and(|u| std::time::Instant::now() < u)
    }

    pub fn failed(&self) {
        if let Ok(mut u) = self.skip_until.lock() {
            *u = Some(std::time::Instant::now() + Self::BACKOFF);
        }
    }
}

/// Process-local map of TMS id → local id. The mapping never changes once made,
/// so it needs no invalidation; the bound only caps memory.
#[derive(Default)]
pub struct LocalUserIds(RwLock<HashMap<String, Uuid>>);

const LOCAL_IDS_MAX: usize = 100_000;

impl LocalUserIds {
    pub fn get(&self, tms_user_id: &str) -> Option<Uuid> {
        self.0.read().ok()?.get(tms_user_id).copied()
    }

    pub fn put(&self, tms_user_id: &str, id: Uuid) {
        if let Ok(mut map) = self.0.write() {
            if map.len() >= LOCAL_IDS_MAX {
                map.clear();
            }
            map.insert(tms_user_id.to_string(), id);
        }
    }
}

/// This replica's copy of the users TMS deleted (`services::deny_list`), and when it was loaded (unix ms; `i64::MIN`: never).
pub struct DenyCache {
    pub list: RwLock<DenyList>,
    pub loaded_at_ms: AtomicI64,
}

impl Default for DenyCache {
    fn default() -> Self {
        Self {
            list: RwLock::new(DenyList::default()),
            loaded_at_ms: AtomicI64::new(i64::MIN),
        }
    }
}
