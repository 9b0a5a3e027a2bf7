//! `/api/v1/*` through the edge: the TMS JWT is verified here and the request
//! goes to core with the signed identity, so core never re-verifies the JWT.
//! The TMS webhook is the one route without a user: core checks TMS's signature.

use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;
use worker::{Request, Response};

use crate::gateway::dispatch::CORE_UNAVAILABLE;
use crate::runtime::config::EdgeConfig;
use crate::runtime::{auth, core_client, http};

/// Request headers core may need; everything else (cookies, the JWT) stays here.
const FORWARDED_HEADERS: &[&str] = &["content-type", "accept", "x-request-id"];

pub async fn forward(mut req: Request, config: &EdgeConfig) -> worker::Result<Response> {
    let header = req.headers().get("authorization")?.unwrap_or_default();
    let token = shared_auth::bearer_token(&header).unwrap_or("");
    let verified = match auth::verify(config, token).await {
        Ok(v) => v,
        Err(e) => return http::error(e.code(), e.message()),
    };
    relay(&mut req, config, &verified.tms_user_id, FORWARDED_HEADERS).await
}

/// `POST /api/v1/webhooks/tms`: TMS has no user token; core checks the
/// `X-TMS-Signature` over the body, which passes through byte for byte.
pub async fn forward_webhook(mut req: Request, config: &EdgeConfig) -> worker::Result<Response> {
    relay(&mut req, config, "", WEBHOOK_HEADERS).await
}

/// Headers of a TMS webhook core needs.
const WEBHOOK_HEADERS: &[&str] = &["content-type", "x-tms-signature", "x-request-id"];

/// Sends the request to core as `acting_user` ("" for a system call) with
/// the listed headers; core's answer comes back as is.
async fn relay(
    req: &mut Request,
    config: &EdgeConfig,
    acting_user: &str,
    forwarded: &[&str],
) -> worker::Result<Response> {
    if let Some(refused) = super::refuse_declared_length(req, MAX_BODY_BYTES)? {
        return Ok(refused);
    }
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
    for name in forwarded {
        if let Some(value) = req.headers().get(name)? {
            extra.push((*name, value));
        }
    }
    match core_client::send(
        config,
        req.method(),
        &path_and_query,
        acting_user,
        &body,
        &extra,
    )
    .await
    {
        Ok(resp) => Ok(resp),
        Err(e) => {
            worker::console_error!("proxy to core failed: {e}");
            http::error(ErrorCode::CoreUnavailable, CORE_UNAVAILABLE)
        }
    }
}
