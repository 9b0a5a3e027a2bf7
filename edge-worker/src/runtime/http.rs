//! Small HTTP helpers shared by the Worker and its objects.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};
use wasm_bindgen::JsValue;
use worker::{Delay, Headers, Method, Request, RequestInit, Response, Stub};

/// The standard error envelope with the status that carries `code`.
pub fn error(code: ErrorCode, message: &str) -> worker::Result<Response> {
    Ok(
        Response::from_json(&Envelope::err(ApiErrorBody::new(code, message)))?
            .with_status(code.http_status()),
    )
}

pub fn ok<T: Serialize>(data: &T) -> worker::Result<Response> {
    Response::from_json(&Envelope::ok(data))
}

/// Waits at most `ms` for `work`; a timeout is an error like any other.
pub async fn within<T>(
    ms: u64,
    work: impl Future<Output = worker::Result<T>>,
) -> worker::Result<T> {
    let work = Box::pin(work);
    let timer = Delay::from(Duration::from_millis(ms));
    match select(work, timer).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(worker::Error::RustError(format!("timed out after {ms} ms"))),
    }
}

/// POSTs JSON to a Durable Object, waiting at most `timeout_ms`; the host is
/// ignored by the runtime.
pub async fn post_json<T: Serialize>(
    stub: &Stub,
    path: &str,
    body: &T,
    timeout_ms: u64,
) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let text = serde_json::to_string(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&text)));
    let req = Request::new_with_init(&format!("https://do.internal{path}"), &init)?;
    within(timeout_ms, stub.fetch_with_request(req)).await
}

/// A JSON request body read as text and parsed in Rust. `Request::json`
/// goes through a JS object (`serde_wasm_bindgen`), which is slower and cannot
/// carry raw JSON (`RawValue`) through.
pub async fn request_json<T: DeserializeOwned>(req: &mut Request) -> worker::Result<T> {
    let text = req.text().await?;
    serde_json::from_str(&text).map_err(|e| worker::Error::RustError(format!("bad body: {e}")))
}

/// `request_json` for a response.
pub async fn response_json<T: DeserializeOwned>(resp: &mut Response) -> worker::Result<T> {
    let text = resp.text().await?;
    serde_json::from_str(&text).map_err(|e| worker::Error::RustError(format!("bad body: {e}")))
}
