use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::JwtAuthenticator;
use crate::auth::replay::LocalReplays;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::services::fanout::Fanout;
use crate::services::rate_limit::RateLimiter;
use crate::services::send_queue::SendQueue;
use crate::services::users::LocalUserIds;
use crate::tms::TmsClient;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: PgPool,
    pub cache: Cache,
    pub tms: TmsClient,
    pub jwt: Arc<JwtAuthenticator>,
    pub clock: Arc<dyn Clock>,
    pub fanout: Fanout,
    pub local_users: Arc<LocalUserIds>,
    /// This replica's record of internal signatures (replay refusal while Redis is down).
    pub replays: Arc<LocalReplays>,
    /// Group commit for message sends.
    pub sends: SendQueue,
    /// Per-user rate limits (Redis, shared by every replica).
    pub limits: RateLimiter,
    pub metrics: Metrics,
}
