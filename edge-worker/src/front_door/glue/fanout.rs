//! Core → edge: `POST /internal/v1/fanout` (a batch of events, routed by
//! `front_door::fanout`) and `POST /internal/v1/stats`, HMAC-checked.

use futures_util::future::{join, join_all};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::internal::{
    FanoutBatch, FanoutResult, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER,
};
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;
use worker::{Env, Method, Request, Response, Stub};

use crate::common::stats::{ObjectCounters, StatsRequest, StatsResponse};
use crate::front_door::fanout::{self, FanoutAnswer};
use crate::gateway::delivery::Delivery;
use crate::room::api::Publish;
use crate::runtime::config::EdgeConfig;
use crate::runtime::{auth, http, objects};

/// The verified body and signature of a signed core → edge request.
async fn verified_body<T: DeserializeOwned>(
    mut req: Request,
    config: &EdgeConfig,
) -> Result<(T, String), worker::Result<Response>> {
    if req.method() != Method::Post {
        return Err(http::error(ErrorCode::MethodNotAllowed, "POST only"));
    }
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let (timestamp, nonce, user, signature) = (
        header(HEADER_TIMESTAMP),
        header(HEADER_NONCE),
        header(HEADER_USER),
        header(HEADER_SIGNATURE),
    );
    match super::refuse_declared_length(&req, MAX_BODY_BYTES) {
        Ok(None) => {}
        Ok(Some(refused)) => return Err(Ok(refused)),
        Err(e) => return Err(Err(e)),
    }
    let body = req.bytes().await.unwrap_or_default();
    if body.len() > MAX_BODY_BYTES {
        return Err(http::error(ErrorCode::PayloadTooLarge, "body too large"));
    }
    let url = req.url().map_err(Err)?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let digest = match sha256_hex(&body).await {
        Ok(d) => d,
        Err(e) => return Err(Err(e)),
    };
    let verified = shared_auth::internal_sig::verify_digest(
        &config.internal_api_secret,
        "POST",
        &path_and_query,
        &timestamp,
        &nonce,
        &user,
        &digest,
        &signature,
        auth::now_unix(),
        shared_auth::internal_sig::MAX_SKEW_SECS,
    );
    if verified.is_err() {
        return Err(http::error(
            ErrorCode::InternalAuthFailed,
            "internal authentication failed",
        ));
    }
    match serde_json::from_slice(&body) {
        Ok(parsed) => Ok((parsed, signature)),
        Err(e) => Err(http::error(
            ErrorCode::ValidationError,
            &format!("bad body: {e}"),
        )),
    }
}

/// SHA-256 of a body, lowercase hex, by the runtime's WebCrypto: core's
/// fan-out bodies are the largest the edge hashes, and hashing them in wasm
/// took a few per cent of the Worker's CPU under load.
async fn sha256_hex(bytes: &[u8]) -> worker::Result<String> {
    use wasm_bindgen::JsCast;
    use worker::js_sys::{Function, Reflect, Uint8Array};
    let crypto = Reflect::get(&worker::js_sys::global(), &"crypto".into())?;
    let subtle = Reflect::get(&crypto, &"subtle".into())?;
    let digest: Function = Reflect::get(&subtle, &"digest".into())?.dyn_into()?;
    let promise = digest.call2(&subtle, &"SHA-256".into(), &Uint8Array::from(bytes))?;
    let buffer =
        worker::wasm_bindgen_futures::JsFuture::from(worker::js_sys::Promise::from(promise))
            .await?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in Uint8Array::new(&buffer).to_vec() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    Ok(hex)
}

pub async fn receive(req: Request, env: &Env, config: &EdgeConfig) -> worker::Result<Response> {
    let (batch, signature): (FanoutBatch<Box<serde_json::value::RawValue>>, String) =
        match verified_body(req, config).await {
            Ok(v) => v,
            Err(answer) => return answer,
        };
    let total = batch.events.len();
    let (rooms, gateways) = fanout::route(batch.events);
    let timeout = config.object_timeout_ms;
    let room_calls = rooms.into_iter().map(|(conversation_id, events)| {
        let body = Publish {
            signature: signature.clone(),
            events,
        };
        async move {
            let stub = objects::room(env, &conversation_id);
            let status = status_of(stub, "/publish", &body, timeout).await;
            (status, body.events.len())
        }
    });
    let gateway_calls = gateways.into_iter().map(|(gateway, (items, count))| {
        let body = Delivery {
            signature: Some(signature.clone()),
            gateway: None,
            items,
        };
        async move {
            let stub = objects::gateway(env, &gateway);
            (status_of(stub, "/deliver", &body, timeout).await, count)
        }
    });
    let (room_results, gateway_results) = join(join_all(room_calls), join_all(gateway_calls)).await;
    let results =
        room_results
            .into_iter()
            .chain(gateway_results)
            .map(|(status, count)| match status {
                Ok(status) => {
                    if !(200..=299).contains(&status) {
                        worker::console_warn!("fan-out target answered {status}");
                    }
                    (Some(status), count)
                }
                Err(e) => {
                    worker::console_warn!("fan-out target failed: {e}");
                    (None, count)
                }
            });
    match fanout::answer(total, results) {
        FanoutAnswer::Accepted(accepted) => http::ok(&FanoutResult { accepted }),
        FanoutAnswer::AuthFailed => http::error(
            ErrorCode::InternalAuthFailed,
            "internal authentication failed",
        ),
        FanoutAnswer::Unavailable => {
            http::error(ErrorCode::ServiceUnavailable, "fan-out targets unavailable")
        }
    }
}

/// An object's status for a POST, or why there is none.
async fn status_of<T: Serialize>(
    stub: worker::Result<Stub>,
    path: &str,
    body: &T,
    timeout_ms: u64,
) -> worker::Result<u16> {
    Ok(http::post_json(&stub?, path, body, timeout_ms)
        .await?
        .status_code())
}

/// `POST /internal/v1/stats`: each named object's counters.
pub async fn stats(req: Request, env: &Env, config: &EdgeConfig) -> worker::Result<Response> {
    let (ask, _): (StatsRequest, String) = match verified_body(req, config).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let timeout = config.object_timeout_ms;
    let mut out = StatsResponse::default();
    for name in ask.gateways {
        let stub = objects::gateway(env, &name)?;
        if let Ok(mut resp) = http::post_json(&stub, "/stats", &(), timeout).await {
            if let Ok(c) = http::response_json::<ObjectCounters>(&mut resp).await {
                out.gateways.insert(name, c);
            }
        }
    }
    for id in ask.conversations {
        let stub = objects::room(env, &id)?;
        if let Ok(mut resp) = http::post_json(&stub, "/stats", &(), timeout).await {
            if let Ok(c) = http::response_json::<ObjectCounters>(&mut resp).await {
                out.rooms.insert(id, c);
            }
        }
    }
    http::ok(&out)
}
