//! The signed internal API: HMAC over method, path, timestamp, nonce, acting user
//! and body hash (see `shared_auth::internal_sig`), plus replay refusal in Redis
//! keyed on the signature (unique per request thanks to the nonce), backed by a
//! per-replica record while Redis is down (`auth::replay`).

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use secrecy::ExposeSecret;
use shared_auth::internal_sig;
use shared_types::internal::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER};
use shared_types::ErrorCode;

use crate::auth::replay::Seen;
use crate::error::AppError;
use crate::state::AppState;

/// The verified caller of an `/internal/v1` route.
#[derive(Debug, Clone)]
pub struct InternalCaller {
    /// The `tms_user_id` the edge acts for; `None` for system calls.
    pub acting_user: Option<String>,
}

fn rejected() -> AppError {
    // one answer for every failure: nothing about which check failed leaks
    AppError::new(
        ErrorCode::InternalAuthFailed,
        "internal authentication failed",
    )
}

/// Verifies the signature headers of a buffered request; returns the acting user.
pub async fn verify_request(
    state: &AppState,
    parts: &Parts,
    body: &[u8],
) -> Result<Option<String>, AppError> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(nonce), Some(signature)) = (
        header(HEADER_TIMESTAMP),
        header(HEADER_NONCE),
        header(HEADER_SIGNATURE),
    ) else {
        return Err(rejected());
    };
    let acting_user = header(HEADER_USER).unwrap_or("");
    // nested routers strip their prefix from `uri`; the signature covers the full path
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let outcome = internal_sig::verify(
        state.config.internal_api_secret.expose_secret().as_bytes(),
        parts.method.as_str(),
        path_and_query,
        timestamp,
        nonce,
        acting_user,
        body,
        signature,
        state.clock.unix_secs(),
        internal_sig::MAX_SKEW_SECS,
    );
    if let Err(e) = outcome {
        tracing::warn!(reason = ?e, path = parts.uri.path(), "internal signature rejected");
        return Err(rejected());
    }
    if !first_use(state, signature).await? {
        tracing::warn!(path = parts.uri.path(), "internal signature replayed");
        return Err(rejected());
    }
    Ok(Some(acting_user.to_string()).filter(|u| !u.is_empty()))
}

/// Whether this is the first use of `signature` within the replay window.
/// Redis is the record shared by all replicas; the local record is checked
/// too and is what decides while Redis is down, so the edge keeps working
/// through a Redis outage with replays to the same replica still refused.
async fn first_use(state: &AppState, signature: &str) -> Result<bool, AppError> {
    let window = internal_sig::REPLAY_WINDOW_SECS;
    let local = state
        .replays
        .check_and_record(signature, state.clock.unix_secs(), window);
    if local == Seen::Replay {
        return Ok(false);
    }
    match state
        .cache
        .set_once(&format!("internal-sig:{signature}"), window)
        .await
    {
        Ok(fresh) => Ok(fresh),
        Err(e) if local == Seen::New => {
            tracing::debug!(error = %e, "replay check in Redis failed: using this replica's record");
            Ok(true)
        }
        // neither record can vouch for it: fail closed
        Err(e) => Err(e),
    }
}

/// Middleware for `/internal/v1`: a TMS JWT alone never gets through.
pub async fn require_signature(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let (mut parts, body) = req.into_parts();
    let bytes = super::read_body(body).await?;
    let acting_user = verify_request(&state, &parts, &bytes).await?;
    parts.extensions.insert(InternalCaller { acting_user });
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}
