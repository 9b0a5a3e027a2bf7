//! The per-user API limit on `/api/v1`, after authentication: requests
//! through the edge (signed identity) and straight to core (TMS JWT) spend
//! the same budget, since both name the same `tms_user_id`.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::models::AuthUser;
use crate::rate_limit::{Checked, LimitKind, RateStatus};
use crate::state::AppState;

/// 429 `RATE_LIMITED` over the limit (nothing runs, nothing is stored);
/// otherwise the route's answer with the `X-RateLimit-*` headers. While
/// Redis is down the request runs without them (fail open).
pub async fn limit_api(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(user) = req.extensions().get::<AuthUser>() else {
        return next.run(req).await;
    };
    match state.limits.check(&user.tms_user_id, LimitKind::Api).await {
        Checked::Allowed(status) => {
            let mut response = next.run(req).await;
            write_headers(&mut response, &status);
            response
        }
        Checked::Limited(status) => AppError::RateLimited(status).into_response(),
        Checked::Unenforced => next.run(req).await,
    }
}

/// The `X-RateLimit-*` headers of an allowed request. A route that refused
/// with its own limit (e.g. upload URLs) keeps that limit's headers.
fn write_headers(response: &mut Response, status: &RateStatus) {
    if response.headers().contains_key("x-ratelimit-limit") {
        return;
    }
    for (name, value) in status.headers(false) {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}
