//! The TMS webhook: a signed notice that a user changed or is gone. The
//! signature proves TMS sent it (`shared_auth::webhook_sig`); a signature is
//! accepted once (Redis, backed by this replica's record while Redis is down).

use secrecy::ExposeSecret;
use shared_auth::webhook_sig;
use shared_types::socket::{server_events, SessionClosed, UserUpdated, NS_NOTIFICATIONS};
use shared_types::webhooks::{TmsWebhook, WebhookOutcome, USER_DELETED, USER_UPDATED};
use shared_types::{ErrorCode, TmsUserId};

use crate::auth::replay::Seen;
use crate::error::{AppError, AppResult};
use crate::fanout::Push;
use crate::repositories::conversations as repo;
use crate::services::{deny_list, users};
use crate::state::AppState;

fn rejected() -> AppError {
    // one answer for every signature failure: which check failed is only logged
    AppError::new(
        ErrorCode::WebhookSignatureInvalid,
        "missing, invalid, stale or replayed X-TMS-Signature",
    )
}

/// Verifies, records and acts on one delivery.
pub async fn receive(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> AppResult<WebhookOutcome> {
    let Some(secret) = state.config.tms_webhook_secret.as_ref() else {
        return Err(AppError::new(
            ErrorCode::ServiceUnavailable,
            "the TMS webhook is not configured on this server (TMS_WEBHOOK_SECRET)",
        ));
    };
    let signature = webhook_sig::verify(
        secret.expose_secret().as_bytes(),
        signature_header.unwrap_or(""),
        body,
        state.clock.unix_secs(),
    )
    .map_err(|reason| {
        tracing::warn!(%reason, "TMS webhook refused");
        rejected()
    })?;
    if !first_use(state, &signature).await? {
        tracing::warn!("TMS webhook replayed");
        return Err(rejected());
    }
    let event: TmsWebhook = serde_json::from_slice(body)
        .map_err(|e| AppError::validation(format!("webhook body: {e}")))?;
    let user = event.data.tms_user_id.as_str();
    TmsUserId::check(user).map_err(|e| AppError::validation(format!("data.tms_user_id: {e}")))?;
    tracing::info!(kind = %event.kind, event_id = ?event.id, "TMS webhook");
    match event.kind.as_str() {
        USER_UPDATED => {
            users::forget(state, user, false).await;
            tell_co_members(state, user).await;
        }
        USER_DELETED => {
            // refused at once, here and (through Postgres) at every replica and edge
            deny_list::deny(state, user).await?;
            users::forget(state, user, true).await;
            let data = serde_json::to_value(SessionClosed {
                reason: "user_deleted".into(),
            })
            .unwrap_or_default();
            state.fanout.publish(
                Push::to_users(
                    user.to_string(),
                    vec![user.to_string()],
                    NS_NOTIFICATIONS,
                    server_events::SESSION_CLOSED,
                    data,
                )
                .closing_sessions(),
            );
        }
        _ => return Ok(WebhookOutcome { handled: false }),
    }
    Ok(WebhookOutcome { handled: true })
}

/// `user_updated` to the online users who share a conversation with `user`,
/// so open clients refetch the profile now rather than at the cache's expiry.
async fn tell_co_members(state: &AppState, user: &str) {
    if !state.fanout.is_enabled() {
        return;
    }
    let subjects = [user.to_string()];
    let members: Vec<String> = match repo::co_members(&state.db, &subjects).await {
        Ok(pairs) => pairs.into_iter().map(|(_, member)| member).collect(),
        Err(e) => {
            tracing::error!(error = %e, "co-members unavailable, user_updated not sent");
            return;
        }
    };
    if members.is_empty() {
        return;
    }
    let data = serde_json::to_value(UserUpdated {
        user_id: user.to_string(),
    })
    .unwrap_or_default();
    state.fanout.publish(Push::to_users(
        user.to_string(),
        members,
        NS_NOTIFICATIONS,
        server_events::USER_UPDATED,
        data,
    ));
}

/// Whether this is the first use of `signature` in the replay window.
async fn first_use(state: &AppState, signature: &str) -> AppResult<bool> {
    let window = webhook_sig::REPLAY_WINDOW_SECS;
    let key = format!("tms-webhook:{signature}");
    let local = state
        .replays
        .check_and_record(&key, state.clock.unix_secs(), window);
    if local == Seen::Replay {
        return Ok(false);
    }
    match state.cache.set_once(&key, window).await {
        Ok(fresh) => Ok(fresh),
        Err(e) if local == Seen::New => {
            tracing::debug!(error = %e, "webhook replay check in Redis failed: using this replica's record");
            Ok(true)
        }
        Err(e) => Err(e),
    }
}
