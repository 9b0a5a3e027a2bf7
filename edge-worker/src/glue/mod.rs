//! The Worker's glue: fetch routing and the Durable Objects. Every protocol
//! and bookkeeping rule lives in the plain-Rust modules of this crate.

mod auth;
mod config;
mod core_client;
mod fanout;
mod http;
mod objects;
mod proxy;
mod room;
mod session;
mod user;

use shared_types::ErrorCode;
use worker::{event, Context, Env, Headers, Request, RequestInit, Response};

use config::EdgeConfig;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let config = match EdgeConfig::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            return http::error(ErrorCode::InternalError, "edge is misconfigured");
        }
    };
    let path = req.path();
    match path.as_str() {
        "/" | "/health" => http::ok(&serde_json::json!({ "status": "ok" })),
        "/socket.io/" | "/socket.io" => upgrade(req, &env).await,
        "/internal/v1/fanout" => fanout::receive(req, &env, &config).await,
        p if p.starts_with("/api/v1/") => proxy::forward(req, &config).await,
        _ => http::error(ErrorCode::NotFound, "no such route"),
    }
}

/// `/socket.io/?EIO=4&transport=websocket`: hands the socket to a fresh Session
/// object. The token arrives later, in the CONNECT packet, so the object is
/// chosen by a new unique id rather than by user.
async fn upgrade(req: Request, env: &Env) -> worker::Result<Response> {
    let url = req.url()?;
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if query("EIO").as_deref() != Some("4") {
        return engine_io_error(5, "Unsupported protocol version");
    }
    if query("transport").as_deref() != Some("websocket") {
        // polling is not offered: clients must use transports: ["websocket"]
        return engine_io_error(0, "Transport unknown");
    }
    if req
        .headers()
        .get("upgrade")?
        .map(|v| v.eq_ignore_ascii_case("websocket"))
        != Some(true)
    {
        return engine_io_error(3, "Bad request");
    }
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let mut target = format!("https://session.internal/connect?sid={session_id}");
    if let Some(token) = query("token") {
        target.push_str("&token=");
        target.push_str(&urlencode(&token));
    }
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        headers.set(&name, &value)?;
    }
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let forwarded = Request::new_with_init(&target, &init)?;
    objects::session(env, &session_id)?
        .fetch_with_request(forwarded)
        .await
}

/// Engine.IO's own error body for a refused handshake.
fn engine_io_error(code: u8, message: &str) -> worker::Result<Response> {
    Ok(
        Response::from_json(&serde_json::json!({ "code": code, "message": message }))?
            .with_status(400),
    )
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
