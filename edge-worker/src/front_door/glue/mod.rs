//! The Worker's fetch handler: routes a request to a gateway (socket
//! upgrades), to core (REST, the TMS webhook) or to Rooms and gateways
//! (core's fan-out). The verdicts are `front_door`'s; this only does I/O.

mod fanout;
mod proxy;

use std::cell::RefCell;

use shared_types::percent::encode_component;
use shared_types::ErrorCode;
use worker::{event, Context, Date, Env, Headers, Method, Request, RequestInit, Response};

use crate::front_door::{self, Cors, EngineRoute};
use crate::gateway::names::{self, ShardHint};
use crate::runtime::config::EdgeConfig;
use crate::runtime::{http, objects};

thread_local! {
    /// Per isolate: where the last full gateway was, so upgrades skip it.
    static SHARD_HINT: RefCell<ShardHint> = RefCell::new(ShardHint::default());
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let config = match EdgeConfig::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            return http::error(ErrorCode::InternalError, "edge is misconfigured");
        }
    };
    let url = req.url()?;
    let own_origin = url.origin().ascii_serialization();
    let origin = req.headers().get("origin")?;
    let preflight = req.method() == Method::Options;
    let cors_headers = match front_door::cors(
        &config.allowed_origins,
        &own_origin,
        origin.as_deref(),
        preflight,
    ) {
        Cors::Refused => {
            return http::error(
                ErrorCode::Forbidden,
                "this Origin is not allowed (ALLOWED_ORIGINS)",
            )
        }
        Cors::NoOrigin => Vec::new(),
        Cors::Allowed(headers) => headers,
    };
    if preflight && !cors_headers.is_empty() {
        return with_headers(Response::empty()?.with_status(204), &cors_headers);
    }
    let path = req.path();
    let resp = match path.as_str() {
        "/" | "/health" => http::ok(&serde_json::json!({ "status": "ok" })),
        "/socket.io/" | "/socket.io" => {
            let resp = engine_io(req, &env, &config).await?;
            // a 101 carries no CORS headers (browsers do not check them on
            // upgrades); a refusal does, so a browser client can read why
            if resp.status_code() == 101 {
                return Ok(resp);
            }
            Ok(resp)
        }
        "/internal/v1/fanout" => fanout::receive(req, &env, &config).await,
        "/internal/v1/stats" => fanout::stats(req, &env, &config).await,
        "/api/v1/webhooks/tms" => proxy::forward_webhook(req, &config).await,
        p if p.starts_with("/api/v1/") => proxy::forward(req, &config).await,
        _ => http::error(ErrorCode::NotFound, "no such route"),
    }?;
    with_headers(resp, &cors_headers)
}

/// The refusal of a body whose declared `Content-Length` is over `limit`
/// (`front_door::check_content_length`), before a byte of it is read.
fn refuse_declared_length(req: &Request, limit: usize) -> worker::Result<Option<Response>> {
    let declared = req.headers().get("content-length")?;
    Ok(
        match front_door::check_content_length(declared.as_deref(), limit) {
            Ok(()) => None,
            Err(front_door::BodyRefusal::TooLarge) => Some(http::error(
                ErrorCode::PayloadTooLarge,
                &format!("body exceeds {limit} bytes"),
            )?),
            Err(front_door::BodyRefusal::BadLength) => Some(http::error(
                ErrorCode::BadRequest,
                "Content-Length is not a number",
            )?),
        },
    )
}

/// `resp` with `extra` headers added. A response fetched from core has
/// immutable headers, so they are copied into a new set.
fn with_headers(resp: Response, extra: &[(&'static str, String)]) -> worker::Result<Response> {
    if extra.is_empty() {
        return Ok(resp);
    }
    let headers = Headers::new();
    for (name, value) in resp.headers().entries() {
        headers.set(&name, &value)?;
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    Ok(resp.with_headers(headers))
}

/// `/socket.io/`: Engine.IO by `front_door::route_engine_io`. A new session
/// (a WebSocket, or a polling handshake) goes to a gateway of this location,
/// spread over its first open shards (`names::ShardHint`); a full one answers
/// 503 and the next shard is tried. The token arrives later, in the CONNECT
/// packet, so the gateway is chosen by place, not by user. A polling
/// session's requests and the WebSocket that upgrades it go to the gateway
/// named in its `sid`.
async fn engine_io(mut req: Request, env: &Env, config: &EdgeConfig) -> worker::Result<Response> {
    let url = req.url()?;
    let query = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let upgrade_header = req.headers().get("upgrade")?;
    let method = req.method().to_string();
    let route = match front_door::route_engine_io(
        &method,
        query("EIO").as_deref(),
        query("transport").as_deref(),
        query("sid").as_deref(),
        upgrade_header.as_deref(),
        config.gateway_max_shards,
    ) {
        Ok(route) => route,
        Err(refusal) => return engine_io_error(refusal.code, refusal.message),
    };
    let token = query("token");
    let (gateway, sid, path) = match route {
        EngineRoute::WebSocket => return open_session(&req, env, config, "connect", token).await,
        EngineRoute::PollOpen => return open_session(&req, env, config, "poll/open", token).await,
        EngineRoute::Upgrade { gateway, sid } => (gateway, sid, "connect"),
        EngineRoute::Poll { gateway, sid } => (gateway, sid, "poll"),
    };
    let target = format!(
        "https://gateway.internal/{path}?gw={}&sid={}",
        encode_component(&gateway),
        encode_component(&sid)
    );
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(copy_headers(&req)?);
    if method == "POST" {
        // maxPayload, refused before a byte is read when declared
        if let Some(refusal) = refuse_declared_length(&req, front_door::POLLING_MAX_BODY_BYTES)? {
            return Ok(refusal);
        }
        let body = req.text().await?;
        if body.len() > front_door::POLLING_MAX_BODY_BYTES {
            return http::error(ErrorCode::PayloadTooLarge, "payload exceeds maxPayload");
        }
        init.with_body(Some(body.into()));
    }
    let forwarded = Request::new_with_init(&target, &init)?;
    let stub = objects::gateway(env, &gateway)?;
    // a GET is held up to POLLING_HOLD_MS before the gateway answers
    let bound = config.object_timeout_ms + config.polling_hold_ms;
    http::within(bound, stub.fetch_with_request(forwarded)).await
}

fn copy_headers(req: &Request) -> worker::Result<Headers> {
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        // the gateway reads the body it is given, not the client's framing
        if name != "content-length" && name != "transfer-encoding" {
            headers.set(&name, &value)?;
        }
    }
    Ok(headers)
}

/// A new Engine.IO session (`path`: `connect` for a WebSocket, `poll/open`
/// for a polling handshake) on an open shard of this location.
async fn open_session(
    req: &Request,
    env: &Env,
    config: &EdgeConfig,
    path: &str,
    token: Option<String>,
) -> worker::Result<Response> {
    let location = names::location(colo(req).as_deref());
    let now = Date::now().as_millis();
    let pick = uuid::Uuid::new_v4().as_u128() as u32;
    let shards = SHARD_HINT.with(|h| {
        h.borrow().order(
            &location,
            config.gateway_max_shards,
            config.gateway_spread_shards,
            now,
            pick,
        )
    });
    for shard in shards {
        let gateway = names::gateway_name(&location, shard);
        let mut target = format!(
            "https://gateway.internal/{path}?gw={}",
            encode_component(&gateway)
        );
        if let Some(token) = &token {
            target.push_str("&token=");
            target.push_str(&encode_component(token));
        }
        let mut init = RequestInit::new();
        init.with_headers(copy_headers(req)?);
        let forwarded = Request::new_with_init(&target, &init)?;
        let stub = objects::gateway(env, &gateway)?;
        let resp =
            http::within(config.object_timeout_ms, stub.fetch_with_request(forwarded)).await?;
        if resp.status_code() != 503 {
            return Ok(resp);
        }
        SHARD_HINT.with(|h| h.borrow_mut().full(&location, shard, now));
    }
    http::error(
        ErrorCode::ServiceUnavailable,
        "every gateway of this location is full, retry later",
    )
}

/// Engine.IO's own error body for a refused handshake.
fn engine_io_error(code: u8, message: &str) -> worker::Result<Response> {
    Ok(
        Response::from_json(&serde_json::json!({ "code": code, "message": message }))?
            .with_status(400),
    )
}

/// `request.cf.colo`, when the runtime gives one: `workerd serve` gives a
/// `cf` without it, where `Cf::colo` would panic.
fn colo(req: &Request) -> Option<String> {
    let raw: &wasm_bindgen::JsValue = req.inner().as_ref();
    let cf = js_sys::Reflect::get(raw, &"cf".into()).ok()?;
    if cf.is_undefined() || cf.is_null() {
        return None;
    }
    js_sys::Reflect::get(&cf, &"colo".into()).ok()?.as_string()
}
