//! Core → edge: `POST /internal/v1/fanout` (a batch of events) and
//! `POST /internal/v1/stats`, HMAC-checked. Conversation events go to their
//! Room in one request per Room, user-addressed ones to their gateways in
//! one request per gateway, each keeping the batch's order.

use std::collections::BTreeMap;

use futures_util::future::{join, join_all};
use serde::de::DeserializeOwned;
use shared_types::internal::{
    FanoutBatch, FanoutResult, FanoutTarget, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
    HEADER_USER,
};
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::ErrorCode;
use uuid::Uuid;
use worker::{Env, Method, Request, Response};

use crate::common::stats::{ObjectCounters, StatsRequest, StatsResponse};
use crate::gateway::delivery::{Delivery, DeliveryItem};
use crate::protocol::socketio;
use crate::room::api::{EdgeEvent, Publish};
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
    let (rooms, gateways) = route(batch.events);
    let timeout = config.object_timeout_ms;
    let room_calls = rooms.into_iter().map(|(conversation_id, events)| {
        let body = Publish {
            signature: signature.clone(),
            events,
        };
        async move {
            let count = body.events.len();
            let stub = objects::room(env, &conversation_id)?;
            let resp = http::post_json(&stub, "/publish", &body, timeout).await?;
            Ok::<_, worker::Error>((resp.status_code(), count))
        }
    });
    let gateway_calls = gateways.into_iter().map(|(gateway, (items, count))| {
        let body = Delivery {
            signature: Some(signature.clone()),
            items,
        };
        async move {
            let stub = objects::gateway(env, &gateway)?;
            let resp = http::post_json(&stub, "/deliver", &body, timeout).await?;
            Ok::<_, worker::Error>((resp.status_code(), count))
        }
    });
    let (room_results, gateway_results) = join(join_all(room_calls), join_all(gateway_calls)).await;
    let mut accepted = 0usize;
    let mut attempted = 0usize;
    for result in room_results.into_iter().chain(gateway_results) {
        attempted += 1;
        match result {
            Ok((401, _)) => {
                return http::error(
                    ErrorCode::InternalAuthFailed,
                    "internal authentication failed",
                )
            }
            Ok((200..=299, count)) => accepted += count,
            Ok((status, _)) => worker::console_warn!("fan-out target answered {status}"),
            Err(e) => worker::console_warn!("fan-out target failed: {e}"),
        }
    }
    if attempted > 0 && accepted == 0 && total > 0 {
        // nothing reached any object: core may retry the whole batch
        return http::error(ErrorCode::ServiceUnavailable, "fan-out targets unavailable");
    }
    http::ok(&FanoutResult {
        accepted: accepted.min(u32::MAX as usize) as u32,
    })
}

type RoomEvents = BTreeMap<Uuid, Vec<EdgeEvent>>;
type GatewayItems = BTreeMap<String, (Vec<DeliveryItem>, usize)>;

/// Groups a batch by target, keeping its order within each target; a
/// user-addressed event is serialised once for all its gateways.
fn route(events: Vec<EdgeEvent>) -> (RoomEvents, GatewayItems) {
    let mut rooms: RoomEvents = BTreeMap::new();
    let mut gateways: GatewayItems = BTreeMap::new();
    for event in events {
        match &event.target {
            FanoutTarget::Conversation {
                conversation_id, ..
            } => rooms.entry(*conversation_id).or_default().push(event),
            FanoutTarget::Gateways { gateways: targets } => {
                let frame = socketio::event_raw(&event.namespace, &event.event, event.data.get());
                for target in targets {
                    let entry = gateways.entry(target.gateway.clone()).or_default();
                    entry.0.push(DeliveryItem::Users {
                        user_ids: target.user_ids.clone(),
                        namespace: event.namespace.clone(),
                        frame: frame.clone(),
                        close: event.close_sessions,
                    });
                    entry.1 += 1;
                }
            }
        }
    }
    (rooms, gateways)
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
