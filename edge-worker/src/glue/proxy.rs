//! `/api/v1/*` through the edge: the TMS JWT is verified here and the request
//! goes to core with the signed identity, so core never re-verifies the JWT.

use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;
use worker::{Request, Response};

use super::config::EdgeConfig;
use super::{auth, core_client, http};

/// Request headers core may need; everything else (cookies, the JWT) stays here.
const FORWARDED_HEADERS: &[&str] = &["content-type", "accept", "x-request-id"];

pub async fn forward(mut req: Request, config: &EdgeConfig) -> worker::Result<Response> {
    let header = req.headers().get("authorization")?.unwrap_or_default();
    let token = shared_auth::bearer_token(&header).unwrap_or("");
    let verified = match auth::verify(config, token).await {
        Ok(v) => v,
        Err(e) => return http::error(e.code(), e.message()),
    };
    let body = req.bytes().await.unwrap_or_default();
    if body.len() > MAX_BODY_BYTES {
        return http::error(
            ErrorCode::PayloadTooLarge,
            &format!("body exceeds {MAX_BODY_BYTES} bytes"),
        );
    }
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut extra = Vec::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = req.headers().get(name)? {
            extra.push((*name, value));
        }
    }
    match core_client::send(
        config,
        req.method(),
        &path_and_query,
        &verified.tms_user_id,
        &body,
        &extra,
    )
    .await
    {
        Ok(resp) => Ok(resp),
        Err(e) => {
            worker::console_error!("proxy to core failed: {e}");
            http::error(
                ErrorCode::CoreUnavailable,
                "core is unavailable, retry later",
            )
        }
    }
}
