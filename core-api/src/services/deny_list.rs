//! The users TMS deleted (`shared_auth::deny_list`), refused at once: the
//! replica that receives `user.deleted` adds the user to its own copy before
//! it answers, and every replica reloads its copy from Postgres in the
//! background once it is older than `DENY_LIST_REFRESH_MS` (a request never
//! waits for it). A load that fails keeps the old copy (logged).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use shared_auth::deny_list::DenyList;
use shared_auth::VerifiedToken;
use shared_types::internal::{DeniedUser, DeniedUsers};
use shared_types::ErrorCode;

use crate::error::{AppError, AppResult};
use crate::repositories::denied_users as repo;
use crate::state::AppState;

fn revoked() -> AppError {
    AppError::new(ErrorCode::TokenRevoked, "the token's user was deleted")
}

/// How far back a deletion still matters: the longest a token may live.
fn horizon(state: &AppState) -> Duration {
    let jwt = &state.config.jwt;
    Duration::seconds((jwt.max_lifetime_secs + jwt.leeway_secs) as i64)
}

/// `decide` over the list, reloaded first when this copy is older than the
/// refresh interval (read under the lock, never copied).
async fn with_current(state: &AppState, decide: impl FnOnce(&DenyList) -> bool) -> bool {
    let now = state.clock.now().timestamp_millis();
    let every = state.config.deny_list_refresh.as_millis() as i64;
    let loaded = state.deny.loaded_at_ms.load(Ordering::Relaxed);
    // one request reloads; the others use the copy meanwhile
    if now.saturating_sub(loaded) >= every
        && state
            .deny
            .loaded_at_ms
            .compare_exchange(loaded, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        // in the background: a slow or down Postgres must not slow requests
        let state = state.clone();
        tokio::spawn(async move { reload(&state).await });
    }
    state.deny.list.read().map(|l| decide(&l)).unwrap_or(false)
}

/// Loads this replica's copy now (at start, before serving).
pub async fn load(state: &AppState) {
    state
        .deny
        .loaded_at_ms
        .store(state.clock.now().timestamp_millis(), Ordering::Relaxed);
    reload(state).await;
}

async fn reload(state: &AppState) {
    match entries(state).await {
        Ok(users) => {
            let mut list =
                DenyList::from_entries(users.into_iter().map(|u| (u.tms_user_id, u.denied_at)));
            if let Ok(mut slot) = state.deny.list.write() {
                // a deletion this replica took while the rows were read stays
                let recent = unix(state.clock.now()).saturating_sub(60);
                for (user, at) in slot.entries().filter(|(_, at)| *at >= recent) {
                    list.insert(user.to_string(), at);
                }
                *slot = list;
            }
        }
        Err(e) => tracing::warn!(error = %e, "deny list reload failed; keeping the old copy"),
    }
}

/// 401 `TOKEN_REVOKED` when the token's user was deleted after it was issued.
pub async fn check_token(state: &AppState, token: &VerifiedToken) -> AppResult<()> {
    if with_current(state, |list| list.refuses_token(token)).await {
        return Err(revoked());
    }
    Ok(())
}

/// 401 `TOKEN_REVOKED` for a request the edge signed for a deleted user.
pub async fn check_user(state: &AppState, tms_user_id: &str) -> AppResult<()> {
    if with_current(state, |list| list.refuses_user(tms_user_id)).await {
        return Err(revoked());
    }
    Ok(())
}

/// `user.deleted`: stored for every replica and the edge, and refused here at once.
pub async fn deny(state: &AppState, tms_user_id: &str) -> AppResult<()> {
    let now = state.clock.now();
    repo::deny(&state.db, tms_user_id, now).await?;
    if let Ok(mut list) = state.deny.list.write() {
        list.insert(tms_user_id.to_string(), unix(now));
    }
    Ok(())
}

/// Every deletion that still matters (`GET /internal/v1/denied-users`).
pub async fn entries(state: &AppState) -> AppResult<Vec<DeniedUser>> {
    let since = state.clock.now() - horizon(state);
    Ok(repo::since(&state.db, since)
        .await?
        .into_iter()
        .map(|(tms_user_id, at)| DeniedUser {
            tms_user_id,
            denied_at: unix(at),
        })
        .collect())
}

pub async fn list(state: &AppState) -> AppResult<DeniedUsers> {
    Ok(DeniedUsers {
        users: entries(state).await?,
    })
}

fn unix(at: DateTime<Utc>) -> u64 {
    at.timestamp().max(0) as u64
}
