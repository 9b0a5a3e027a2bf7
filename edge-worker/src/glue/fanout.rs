//! Core → edge: `POST /internal/v1/fanout`, HMAC-checked, routed to the Room
//! (conversation events) or User objects (user-addressed events).

use shared_types::internal::{
    FanoutRequest, FanoutResult, FanoutTarget, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    HEADER_USER,
};
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;
use worker::{Env, Method, Request, Response};

use super::config::EdgeConfig;
use super::objects::{self, Deliver, SignedDeliver, SignedFanout};
use super::{auth, http};
use crate::socketio;

pub async fn receive(mut req: Request, env: &Env, config: &EdgeConfig) -> worker::Result<Response> {
    if req.method() != Method::Post {
        return http::error(ErrorCode::MethodNotAllowed, "POST only");
    }
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let (timestamp, nonce, user, signature) = (
        header(HEADER_TIMESTAMP),
        header(HEADER_NONCE),
        header(HEADER_USER),
        header(HEADER_SIGNATURE),
    );
    let body = req.bytes().await.unwrap_or_default();
    if body.len() > MAX_BODY_BYTES {
        return http::error(ErrorCode::PayloadTooLarge, "fan-out body too large");
    }
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let verified = shared_auth::internal_sig::verify(
        &config.internal_api_secret,
        "POST",
        &path_and_query,
        &timestamp,
        &nonce,
        &user,
        &body,
        &signature,
        auth::now_unix(),
        shared_auth::internal_sig::MAX_SKEW_SECS,
    );
    if verified.is_err() {
        return http::error(
            ErrorCode::InternalAuthFailed,
            "internal authentication failed",
        );
    }
    let request: FanoutRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return http::error(
                ErrorCode::ValidationError,
                &format!("bad fan-out body: {e}"),
            )
        }
    };
    match request.target.clone() {
        FanoutTarget::Conversation {
            conversation_id, ..
        } => {
            let stub = objects::room(env, &conversation_id)?;
            let mut resp =
                http::post_json(&stub, "/fanout", &SignedFanout { signature, request }).await?;
            if resp.status_code() == 401 {
                return http::error(
                    ErrorCode::InternalAuthFailed,
                    "internal authentication failed",
                );
            }
            let result: FanoutResult = resp.json().await?;
            http::ok(&result)
        }
        FanoutTarget::Users { user_ids } => {
            let frame = socketio::event(&request.namespace, &request.event, &request.data);
            let signed = SignedDeliver {
                signature,
                deliver: Deliver {
                    namespace: request.namespace.clone(),
                    frames: vec![frame],
                },
            };
            let sends = user_ids.iter().map(|id| {
                let signed = &signed;
                async move {
                    match objects::user(env, id) {
                        Ok(stub) => match http::post_json(&stub, "/fanout", signed).await {
                            Ok(resp) => UserOutcome::from_status(resp.status_code()),
                            Err(_) => UserOutcome::Failed,
                        },
                        Err(_) => UserOutcome::Failed,
                    }
                }
            });
            let outcomes = futures_util::future::join_all(sends).await;
            if outcomes.contains(&UserOutcome::Replayed) {
                return http::error(
                    ErrorCode::InternalAuthFailed,
                    "internal authentication failed",
                );
            }
            let delivered = outcomes
                .iter()
                .filter(|o| **o == UserOutcome::Delivered)
                .count();
            http::ok(&FanoutResult {
                delivered: delivered as u32,
            })
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UserOutcome {
    Delivered,
    Replayed,
    Failed,
}

impl UserOutcome {
    fn from_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered,
            401 => Self::Replayed,
            _ => Self::Failed,
        }
    }
}
