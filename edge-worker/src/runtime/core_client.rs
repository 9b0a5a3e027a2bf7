//! Edge → core over the signed internal API, every call bounded by
//! `CORE_TIMEOUT_MS`. Any failure to get core's answer (down, slow, garbled)
//! is `CORE_UNAVAILABLE`, on sockets and REST alike.

use std::time::Duration;

use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::socket::Ack;
use shared_types::{Envelope, ErrorCode};
use wasm_bindgen::JsValue;
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response};

use super::auth::now_unix;
use super::config::EdgeConfig;
use crate::gateway::dispatch::CORE_UNAVAILABLE;

/// A failed call, ready to become an ack error (core's 429 `RATE_LIMITED`
/// for a socket send becomes that ack error, with its details).
#[derive(Debug, Clone)]
pub struct CoreError {
    pub code: ErrorCode,
    pub message: String,
    /// Core's `error.details`, passed on to the ack (e.g. `retry_after_ms`).
    pub details: Option<serde_json::Value>,
}

impl CoreError {
    pub fn unavailable(why: impl std::fmt::Display) -> Self {
        worker::console_error!("core call failed: {why}");
        Self {
            code: ErrorCode::CoreUnavailable,
            message: CORE_UNAVAILABLE.into(),
            details: None,
        }
    }

    /// The socket ack carrying this error.
    pub fn ack(self) -> Ack {
        Ack::err_with_details(self.code, self.message, self.details)
    }
}

/// Sends a signed request as `acting_user` ("" for a system call) and
/// returns core's raw response, or an error after `core_timeout_ms`.
pub async fn send(
    config: &EdgeConfig,
    method: Method,
    path_and_query: &str,
    acting_user: &str,
    body: &[u8],
    extra_headers: &[(&str, String)],
) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in shared_auth::internal_sig::signed_headers(
        &config.internal_api_secret,
        method.as_ref(),
        path_and_query,
        now_unix(),
        &uuid::Uuid::new_v4().simple().to_string(),
        acting_user,
        body,
    ) {
        headers.set(name, &value)?;
    }
    for (name, value) in extra_headers {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if !body.is_empty() {
        init.with_body(Some(JsValue::from(js_sys::Uint8Array::from(body))));
    }
    let req = Request::new_with_init(&format!("{}{path_and_query}", config.core_api_url), &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let timer = Delay::from(Duration::from_millis(config.core_timeout_ms));
    let outcome = {
        let call = Box::pin(fetch.send_with_signal(&signal));
        match select(call, timer).await {
            Either::Left((result, _)) => Some(result),
            Either::Right(_) => None,
        }
    };
    match outcome {
        Some(result) => result,
        None => {
            controller.abort();
            Err(worker::Error::RustError(format!(
                "core did not answer within {} ms",
                config.core_timeout_ms
            )))
        }
    }
}

/// A JSON call whose answer is the standard envelope; unwraps `data`.
pub async fn call<B: Serialize, T: DeserializeOwned>(
    config: &EdgeConfig,
    method: Method,
    path: &str,
    acting_user: &str,
    body: Option<&B>,
) -> Result<T, CoreError> {
    let bytes = match body {
        Some(b) => serde_json::to_vec(b).map_err(CoreError::unavailable)?,
        None => Vec::new(),
    };
    call_with_body(config, method, path, acting_user, &bytes).await
}

/// `call` with a body serialised by the caller.
pub async fn call_with_body<T: DeserializeOwned>(
    config: &EdgeConfig,
    method: Method,
    path: &str,
    acting_user: &str,
    bytes: &[u8],
) -> Result<T, CoreError> {
    let content_type = [("content-type", "application/json".to_string())];
    let mut resp = send(config, method, path, acting_user, bytes, &content_type)
        .await
        .map_err(CoreError::unavailable)?;
    let text = resp.text().await.map_err(CoreError::unavailable)?;
    let envelope: Envelope<T> = serde_json::from_str(&text).map_err(CoreError::unavailable)?;
    match (envelope.data, envelope.error) {
        (Some(data), None) => Ok(data),
        (_, Some(e)) => Err(CoreError {
            code: e.code,
            message: e.message,
            details: e.details,
        }),
        (None, None) => Err(CoreError::unavailable("empty envelope")),
    }
}
