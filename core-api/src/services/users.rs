//! TMS user data behind the cache: `{user:<id>}:profile` for 600 s, a
//! long-lived stale copy (`{user:<id>}:profile-stale`) served when TMS fails,
//! batch lookups for participants.

use std::collections::HashMap;

use shared_types::api::UserProfile;
use shared_types::ErrorCode;
use uuid::Uuid;

use crate::cache::keys::{profile as fresh_key, stale_profile as stale_key};
use crate::error::{AppError, AppResult};
use crate::repositories;
use crate::state::AppState;

pub const PROFILE_TTL_SECS: u64 = 600;
/// How long a profile may be served stale while TMS is down.
pub const STALE_PROFILE_TTL_SECS: u64 = 7 * 24 * 3600;

/// The local `users.id` of a TMS user, upserting the reference row on first sight.
pub async fn local_id(state: &AppState, tms_user_id: &str) -> AppResult<Uuid> {
    if let Some(id) = state.local_users.get(tms_user_id) {
        return Ok(id);
    }
    let id = repositories::users::ensure(&state.db, tms_user_id).await?;
    state.local_users.put(tms_user_id, id);
    Ok(id)
}

/// 422 unless every id follows `TmsUserId`'s rule (ids from clients).
pub fn check_ids<S: AsRef<str>>(ids: &[S], what: &str) -> AppResult<()> {
    for id in ids {
        shared_types::TmsUserId::check(id.as_ref())
            .map_err(|e| AppError::validation(format!("{what}: {e}")))?;
    }
    Ok(())
}

/// One profile. `Ok(None)`: TMS says no such user. With Redis down it comes
/// from TMS directly; with TMS down too, nothing can answer: 503 CACHE_UNAVAILABLE.
pub async fn profile(state: &AppState, tms_user_id: &str) -> AppResult<Option<UserProfile>> {
    if let Ok(Some(p)) = cached(state, FRESH, tms_user_id).await {
        return Ok(Some(p));
    }
    match state.tms.get_user(tms_user_id).await {
        Ok(Some(p)) => {
            store(state, std::slice::from_ref(&p)).await;
            Ok(Some(p))
        }
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "TMS user lookup failed; trying stale cache");
            match cached(state, STALE, tms_user_id).await {
                Ok(Some(p)) => Ok(Some(p)),
                Ok(None) => Err(tms_unavailable()),
                Err(CacheDown) => Err(cache_unavailable()),
            }
        }
    }
}

/// Profiles for many users in at most one cache round trip and one TMS call.
/// Unknown users are absent from the map.
pub async fn profiles(state: &AppState, ids: &[String]) -> AppResult<HashMap<String, UserProfile>> {
    let mut found = HashMap::with_capacity(ids.len());
    // with the cache down every id is missing and TMS answers for all
    let missing = lookup_many(state, ids, FRESH, &mut found)
        .await
        .unwrap_or_else(|CacheDown| ids.to_vec());
    if missing.is_empty() {
        return Ok(found);
    }
    match state.tms.get_users(&missing).await {
        Ok(fetched) => {
            store(state, &fetched).await;
            found.extend(fetched.into_iter().map(|p| (p.id.clone(), p)));
            Ok(found)
        }
        Err(e) => {
            tracing::warn!(error = %e, "TMS batch lookup failed; trying stale cache");
            match lookup_many(state, &missing, STALE, &mut found).await {
                Ok(still) if still.is_empty() => Ok(found),
                Ok(_) => Err(tms_unavailable()),
                Err(CacheDown) => Err(cache_unavailable()),
            }
        }
    }
}

/// Drops the cached profile of `tms_user_id` (TMS said it changed), and with
/// `stale_too` the long-lived copy as well (the user is gone). While Redis is
/// down the deletion waits for it, ahead of any other write.
pub async fn forget(state: &AppState, tms_user_id: &str, stale_too: bool) {
    let mut pipe = redis::pipe();
    pipe.del(state.cache.key(&fresh_key(tms_user_id))).ignore();
    if stale_too {
        pipe.del(state.cache.key(&stale_key(tms_user_id))).ignore();
    }
    let queued = pipe.clone();
    let result = state
        .cache
        .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "profile invalidation deferred until Redis answers");
        state.cache.replay_on_recovery(queued);
    }
}

/// Fails with 422 `UNKNOWN_USER` naming every id TMS does not know.
pub async fn require_known(state: &AppState, ids: &[String]) -> AppResult<()> {
    let found = profiles(state, ids).await?;
    let unknown: Vec<&String> = ids.iter().filter(|id| !found.contains_key(*id)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(AppError::with_details(
        ErrorCode::UnknownUser,
        "unknown user id(s)",
        serde_json::json!({ "unknown_ids": unknown }),
    ))
}

fn tms_unavailable() -> AppError {
    AppError::new(
        ErrorCode::TmsUnavailable,
        "user directory (TMS) is unavailable",
    )
}

fn cache_unavailable() -> AppError {
    AppError::new(
        ErrorCode::CacheUnavailable,
        "user directory (TMS) and its cache are both unavailable",
    )
}

/// The cache could not be read (Redis down or slow): unlike a miss, this says
/// nothing about whether a copy exists.
struct CacheDown;

/// The fresh and the stale copies: each its key and its name in `cache_lookups_total`.
type Copy = (fn(&str) -> String, &'static str);
const FRESH: Copy = (fresh_key, "profile");
const STALE: Copy = (stale_key, "profile_stale");

async fn cached(
    state: &AppState,
    (key, name): Copy,
    tms_user_id: &str,
) -> Result<Option<UserProfile>, CacheDown> {
    // a cache outage degrades to TMS lookups, it does not fail the request
    let Ok(raw) = state.cache.get(&key(tms_user_id)).await else {
        state.metrics.cache_lookup(name, "error", 1);
        return Err(CacheDown);
    };
    let profile = raw.and_then(|raw| serde_json::from_str(&raw).ok());
    let result = if profile.is_some() { "hit" } else { "miss" };
    state.metrics.cache_lookup(name, result, 1);
    Ok(profile)
}

/// Fills `found` from the cache; returns the ids still missing.
async fn lookup_many(
    state: &AppState,
    ids: &[String],
    (key, name): Copy,
    found: &mut HashMap<String, UserProfile>,
) -> Result<Vec<String>, CacheDown> {
    let keys: Vec<String> = ids.iter().map(|id| key(id)).collect();
    let Ok(values) = state.cache.mget(&keys).await else {
        state.metrics.cache_lookup(name, "error", ids.len() as u64);
        return Err(CacheDown);
    };
    let mut missing = Vec::new();
    for (id, value) in ids.iter().zip(values) {
        match value.and_then(|raw| serde_json::from_str::<UserProfile>(&raw).ok()) {
            Some(p) => {
                found.insert(id.clone(), p);
            }
            None => missing.push(id.clone()),
        }
    }
    let hits = (ids.len() - missing.len()) as u64;
    state.metrics.cache_lookup(name, "hit", hits);
    state
        .metrics
        .cache_lookup(name, "miss", missing.len() as u64);
    Ok(missing)
}

async fn store(state: &AppState, profiles: &[UserProfile]) {
    let mut fresh = Vec::with_capacity(profiles.len());
    let mut stale = Vec::with_capacity(profiles.len());
    for p in profiles {
        if let Ok(raw) = serde_json::to_string(p) {
            fresh.push((fresh_key(&p.id), raw.clone()));
            stale.push((stale_key(&p.id), raw));
        }
    }
    if let Err(e) = state.cache.set_many(&fresh, PROFILE_TTL_SECS).await {
        // while Redis is down the outage was logged once already
        if state.cache.is_up() {
            tracing::warn!(error = %e, "caching profiles failed");
        }
    }
    let _ = state.cache.set_many(&stale, STALE_PROFILE_TTL_SECS).await;
}
