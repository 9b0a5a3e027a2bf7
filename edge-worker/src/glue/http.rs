//! Small HTTP helpers shared by the Worker and its objects.

use serde::Serialize;
use shared_types::{ApiErrorBody, Envelope, ErrorCode};
use wasm_bindgen::JsValue;
use worker::{Headers, Method, Request, RequestInit, Response, Stub};

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

/// POSTs JSON to a Durable Object; the host is ignored by the runtime.
pub async fn post_json<T: Serialize>(
    stub: &Stub,
    path: &str,
    body: &T,
) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let text = serde_json::to_string(body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&text)));
    let req = Request::new_with_init(&format!("https://do.internal{path}"), &init)?;
    stub.fetch_with_request(req).await
}
