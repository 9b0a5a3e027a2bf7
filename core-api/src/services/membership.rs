//! Who may see and touch a conversation. Every conversation-scoped route and
//! internal call goes through here.

use std::sync::LazyLock;

use sqlx::PgPool;
use uuid::Uuid;

use crate::cache::keys::{members as members_key, members_version as version_key};
use crate::cache::Cache;
use crate::error::{AppError, AppResult};
use crate::models::conversation::MemberRow;
use crate::models::AuthUser;
use crate::repositories::conversations as repo;
use crate::state::AppState;

/// The membership cache TTL of the original (FastAPI) design.
pub const MEMBERS_CACHE_TTL_SECS: u64 = 900;
/// Keeps the cached set non-empty, so "cached with no members" differs from "not cached".
const SENTINEL: &str = "";
/// The name of `is_member`'s lookups in `cache_lookups_total`.
const CACHE_NAME: &str = "membership";

/// Outlives any fill in flight by far; a version that expired reads as "",
/// which only a fill that started after the expiry can have seen.
const VERSION_TTL_SECS: i64 = 86_400;

/// KEYS: the set, its version. ARGV: the version seen, the TTL, the members.
/// Stores the set only if the version is still the one seen; SADDs in chunks
/// because Lua's `unpack` is limited to a few thousand values.
static STORE_IF_UNCHANGED: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
        redis.call('DEL', KEYS[1])
        for i = 3, #ARGV, 1000 do
            redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
        end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return 1
        ",
    )
});

/// The caller's membership, or 404 for a conversation that does not exist and
/// 403 for one the caller is not in.
pub async fn require_member(
    state: &AppState,
    conversation_id: Uuid,
    user: &AuthUser,
) -> AppResult<MemberRow> {
    if let Some(m) = repo::member(&state.db, conversation_id, user.user_id).await? {
        return Ok(m);
    }
    if repo::exists(&state.db, conversation_id).await? {
        Err(AppError::forbidden(
            "you are not a member of this conversation",
        ))
    } else {
        Err(AppError::not_found("conversation"))
    }
}

/// Membership by TMS id through the Redis set `{conv:<id>}:members`.
/// While Redis is down or slow the answer comes from Postgres, uncached.
pub async fn is_member(
    state: &AppState,
    conversation_id: Uuid,
    tms_user_id: &str,
) -> AppResult<bool> {
    let key = state.cache.key(&members_key(conversation_id));
    let version_key = state.cache.key(&version_key(conversation_id));
    let pipe = redis::pipe()
        .sismember(&key, tms_user_id)
        .exists(&key)
        .get(&version_key)
        .clone();
    let read: redis::RedisResult<(bool, bool, Option<String>)> = state
        .cache
        .run(|mut c| async move { pipe.query_async(&mut c).await })
        .await;
    let version = match read {
        Ok((cached, true, _)) => {
            state.metrics.cache_lookup(CACHE_NAME, "hit", 1);
            return Ok(cached);
        }
        Ok((_, false, version)) => {
            state.metrics.cache_lookup(CACHE_NAME, "miss", 1);
            version
        }
        Err(e) => {
            state.metrics.cache_lookup(CACHE_NAME, "error", 1);
            tracing::debug!(%conversation_id, error = %e, "membership cache unavailable: reading Postgres");
            let members = repo::member_tms_ids(&state.db, conversation_id).await?;
            return Ok(members.iter().any(|m| m == tms_user_id));
        }
    };
    let members = repo::member_tms_ids(&state.db, conversation_id).await?;
    // a failed fill only costs the next caller another database read
    if let Err(e) = store_if_unchanged(state, conversation_id, version.as_deref(), &members).await {
        tracing::debug!(%conversation_id, error = %e, "membership cache fill failed");
    }
    Ok(members.iter().any(|m| m == tms_user_id))
}

/// Caches `members`, read from the database after the version was `seen`,
/// unless a membership change has bumped the version since: that change may
/// have committed after the read, and its invalidation must not be undone by
/// this older list. Returns whether the set was stored.
pub async fn store_if_unchanged(
    state: &AppState,
    conversation_id: Uuid,
    seen: Option<&str>,
    members: &[String],
) -> AppResult<bool> {
    store(&state.cache, conversation_id, seen, members).await
}

/// Every member's TMS id, from the cached set (filled from the database on a
/// miss). Takes the cache and pool alone so the push lanes can call it.
/// While Redis is down the list comes from Postgres, uncached.
pub async fn members(cache: &Cache, db: &PgPool, conversation_id: Uuid) -> AppResult<Vec<String>> {
    let key = cache.key(&members_key(conversation_id));
    let pipe = redis::pipe()
        .smembers(&key)
        .get(cache.key(&version_key(conversation_id)))
        .clone();
    let read: redis::RedisResult<(Vec<String>, Option<String>)> = cache
        .run(|mut c| async move { pipe.query_async(&mut c).await })
        .await;
    let version = match read {
        Ok((cached, _)) if !cached.is_empty() => {
            return Ok(cached.into_iter().filter(|m| m != SENTINEL).collect())
        }
        Ok((_, version)) => version,
        Err(e) => {
            tracing::debug!(%conversation_id, error = %e, "membership cache unavailable: reading Postgres");
            return Ok(repo::member_tms_ids(db, conversation_id).await?);
        }
    };
    let members = repo::member_tms_ids(db, conversation_id).await?;
    if let Err(e) = store(cache, conversation_id, version.as_deref(), &members).await {
        tracing::debug!(%conversation_id, error = %e, "membership cache fill failed");
    }
    Ok(members)
}

async fn store(
    cache: &Cache,
    conversation_id: Uuid,
    seen: Option<&str>,
    members: &[String],
) -> AppResult<bool> {
    let mut invocation = STORE_IF_UNCHANGED.key(cache.key(&members_key(conversation_id)));
    invocation
        .key(cache.key(&version_key(conversation_id)))
        .arg(seen.unwrap_or(""))
        .arg(MEMBERS_CACHE_TTL_SECS)
        .arg(SENTINEL)
        .arg(members);
    let stored: i64 = cache
        .run(|mut c| async move { invocation.invoke_async(&mut c).await })
        .await?;
    Ok(stored == 1)
}

/// Called after every committed membership change: bumps the version (so a
/// fill that read the database before the change is not stored) and drops the
/// set. The change is already committed, so a Redis failure does not fail the
/// request: the invalidation is queued and replayed as soon as Redis answers
/// again, so a Redis that was only hung cannot serve the old member list.
pub async fn invalidate(state: &AppState, conversation_id: Uuid) {
    let version_key = state.cache.key(&version_key(conversation_id));
    let pipe = redis::pipe()
        .atomic()
        .incr(&version_key, 1)
        .ignore()
        .expire(&version_key, VERSION_TTL_SECS)
        .ignore()
        .del(state.cache.key(&members_key(conversation_id)))
        .ignore()
        .clone();
    let queued = pipe.clone();
    let result = state
        .cache
        .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
        .await;
    if let Err(e) = result {
        tracing::warn!(%conversation_id, error = %e, "membership cache invalidation deferred until Redis answers");
        state.cache.replay_on_recovery(queued);
    }
}
