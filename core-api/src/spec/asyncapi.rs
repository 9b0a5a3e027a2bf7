//! The AsyncAPI 3.0 document of the Socket.IO events and its Markdown page,
//! both from `events::all()` and the shared types' schemas. Operations are
//! seen from the server: `receive` for what clients emit (with the ack as
//! the reply), `send` for what the server pushes.

use serde_json::{json, Map, Value};
use shared_types::socket::{AckError, ConnectAuth, ConnectError};
use shared_types::ErrorCode;
use utoipa::openapi::Components;

use super::events::{self, Direction, Event, Payload, NAMESPACES};
use super::{errors, examples};

const INTRO: &str = "\
Live events of teamchat, over **Socket.IO v5 / Engine.IO v4** at the edge: \
`wss://<edge>/socket.io/?EIO=4&transport=websocket` \
(`io(url + namespace, {transports: [\"websocket\"], auth: {token}})`, the cheapest), or \
a default `io(url + namespace, {auth: {token}})`, which starts with HTTP long-polling \
(`transport=polling`) and upgrades to the WebSocket. The three namespaces \
share one connection and one identity: the TMS JWT goes in the CONNECT packet's \
`auth: {token}` (`?token=` on the URL is a fallback). A refused CONNECT answers \
`ConnectError` `{message, data: {code}}`.

Every client event takes an ack callback, answered `{ok: true, data?}` or \
`{ok: false, error: {code, message}}`; the codes are the REST API's `ErrorCode` \
(for example `FORBIDDEN` for a non-member, `VALIDATION_ERROR` for a bad payload, \
`RATE_LIMITED` over 10 packets/s, `CORE_UNAVAILABLE` when the edge cannot reach core).

Connection-state recovery (Socket.IO's `connectionStateRecovery`): a CONNECT is answered \
`{sid, pid}` and every server event carries an offset (a string) as its last argument; \
the official client sends `{pid, offset}` back in its auth when it reconnects and, within \
`MAX_DISCONNECTION_DURATION_MS` (2 minutes) of a drop without DISCONNECT, gets every event \
it missed, once and in order, with `socket.recovered === true`. A client that does not \
want offsets connects with `auth: {token, recovery: false}`.";

fn name(payload: &Payload) -> String {
    (payload.name)().into_owned()
}

fn schema_ref(payload: &Payload) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", name(payload)) })
}

fn channel_key(namespace: &str) -> &str {
    namespace.trim_start_matches('/')
}

/// The schemas the events use, with their dependencies and examples.
fn schemas(events: &[Event]) -> Map<String, Value> {
    let mut collected = Vec::new();
    for payload in [
        events::of::<AckError>(),
        events::of::<ConnectAuth>(),
        events::of::<ConnectError>(),
        events::of::<ErrorCode>(),
    ] {
        (payload.collect)(&mut collected);
    }
    for event in events {
        (event.payload.collect)(&mut collected);
        if let Direction::ClientToServer { ack: Some(ack) } = &event.direction {
            (ack.collect)(&mut collected);
        }
    }
    let mut components = Components::new();
    components.schemas.extend(collected);
    examples::attach(&mut components);
    errors::describe_codes(&mut components.schemas);
    let mut out = Map::new();
    for (key, schema) in components.schemas {
        out.insert(key, serde_json::to_value(schema).unwrap_or_default());
    }
    out
}

/// `{ok: true, data}` (or `{ok: true}`), or `{ok: false, error}`.
fn ack_schema(data: Option<&Payload>) -> Value {
    let mut success = json!({
        "type": "object",
        "properties": { "ok": { "const": true } },
        "required": ["ok"],
    });
    if let Some(data) = data {
        success["properties"]["data"] = schema_ref(data);
        success["required"] = json!(["ok", "data"]);
    }
    json!({ "oneOf": [success, {
        "type": "object",
        "properties": {
            "ok": { "const": false },
            "error": { "$ref": "#/components/schemas/AckError" },
        },
        "required": ["ok", "error"],
    }]})
}

/// The AsyncAPI document, as `/asyncapi.json` serves it.
pub fn asyncapi() -> Value {
    let events = events::all();
    let mut channels = Map::new();
    for (namespace, description) in NAMESPACES {
        channels.insert(
            channel_key(namespace).into(),
            json!({ "address": namespace, "description": description, "messages": {} }),
        );
    }
    let mut messages = Map::new();
    let mut operations = Map::new();
    for event in &events {
        let channel = channel_key(event.namespace);
        // `/calls` has events of the same name both ways (`call_invite`…):
        // the server's then get ids of their own
        let both_ways = matches!(event.direction, Direction::ServerToClient { .. })
            && events.iter().any(|other| {
                other.namespace == event.namespace
                    && other.name == event.name
                    && matches!(other.direction, Direction::ClientToServer { .. })
            });
        let id: String = if both_ways {
            format!("to_client.{}", event.name)
        } else {
            event.name.into()
        };
        let key = format!("{channel}.{id}");
        let message_ref =
            |id: &str| json!({ "$ref": format!("#/channels/{channel}/messages/{id}") });
        let mut add_message = |id: String, message: Value| {
            channels[channel]["messages"][&id] =
                json!({ "$ref": format!("#/components/messages/{channel}.{id}") });
            messages.insert(format!("{channel}.{id}"), message);
        };
        add_message(
            id.clone(),
            json!({ "name": event.name, "summary": event.summary, "payload": schema_ref(&event.payload) }),
        );
        let operation = match &event.direction {
            Direction::ClientToServer { ack } => {
                let ack_id = format!("{}.ack", event.name);
                add_message(
                    ack_id.clone(),
                    json!({ "name": ack_id, "summary": format!("The ack of `{}`.", event.name), "payload": ack_schema(ack.as_ref()) }),
                );
                json!({
                    "action": "receive",
                    "channel": { "$ref": format!("#/channels/{channel}") },
                    "summary": event.summary,
                    "messages": [message_ref(event.name)],
                    "reply": {
                        "channel": { "$ref": format!("#/channels/{channel}") },
                        "messages": [message_ref(&ack_id)],
                    },
                })
            }
            Direction::ServerToClient { to } => json!({
                "action": "send",
                "channel": { "$ref": format!("#/channels/{channel}") },
                "summary": event.summary,
                "description": format!("To {to}."),
                "messages": [message_ref(&id)],
            }),
        };
        operations.insert(key, operation);
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "teamchat Socket.IO events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": INTRO,
        },
        "defaultContentType": "application/json",
        "servers": {
            "edge": {
                "host": "localhost:8787",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "description": "The edge under `make dev`; deployed edges answer on `wss://` at their own host.",
                "security": [{ "$ref": "#/components/securitySchemes/tmsJwt" }],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas(&events),
            "messages": messages,
            "securitySchemes": {
                "tmsJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A TMS JWT in the CONNECT packet's `auth: {token}` (or `?token=` on the URL).",
                }
            },
        },
    })
}

/// The fields of a schema as `{a, b?}` (`?`: may be absent or null).
fn fields(schemas: &Map<String, Value>, payload: &Payload) -> String {
    let schema = &schemas[&name(payload)];
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| {
            p.iter()
                .map(|(field, spec)| {
                    let null = json!({ "type": "null" });
                    let nullable = spec["type"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == "null"))
                        || spec["oneOf"].as_array().is_some_and(|o| o.contains(&null));
                    if required.contains(&field.as_str()) && !nullable {
                        field.clone()
                    } else {
                        format!("{field}?")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!("`{}` `{{{}}}`", name(payload), names.join(", "))
}

/// `docs/socket-events.md`: the same catalogue as a page to read.
pub fn events_markdown() -> String {
    let events = events::all();
    let schemas = schemas(&events);
    let mut page = String::from(
        "# Socket.IO events\n\n\
         <!-- Generated from core-api/src/spec/events.rs by the test `socket_events_page_is_current`; \
         do not edit. UPDATE_DOCS=1 cargo test -p core-api --test docs rewrites it. -->\n\n",
    );
    page.push_str(INTRO);
    page.push_str(
        "\n\nThe machine-readable form is the AsyncAPI 3.0 document at `GET /asyncapi.json` \
         on core; the REST API is at `/docs` (its schemas are the same). `x?` marks a field \
         that may be absent or null.\n",
    );
    for (namespace, description) in NAMESPACES {
        page.push_str(&format!("\n## `{namespace}`\n\n{description}\n"));
        let of_ns: Vec<&Event> = events
            .iter()
            .filter(|e| e.namespace == *namespace)
            .collect();
        let client: Vec<_> = of_ns
            .iter()
            .filter_map(|e| match &e.direction {
                Direction::ClientToServer { ack } => Some((e, ack)),
                _ => None,
            })
            .collect();
        if !client.is_empty() {
            page.push_str(
                "\n### Client → server\n\n| event | payload | ack `data` | |\n|---|---|---|---|\n",
            );
            for (e, ack) in client {
                let ack = ack
                    .as_ref()
                    .map_or("none".into(), |a| format!("`{}`", name(a)));
                page.push_str(&format!(
                    "| `{}` | {} | {ack} | {} |\n",
                    e.name,
                    fields(&schemas, &e.payload),
                    e.summary
                ));
            }
        }
        let server: Vec<_> = of_ns
            .iter()
            .filter_map(|e| match &e.direction {
                Direction::ServerToClient { to } => Some((e, to)),
                _ => None,
            })
            .collect();
        if !server.is_empty() {
            page.push_str(
                "\n### Server → client\n\n| event | payload | to | |\n|---|---|---|---|\n",
            );
            for (e, to) in server {
                page.push_str(&format!(
                    "| `{}` | {} | {to} | {} |\n",
                    e.name,
                    fields(&schemas, &e.payload),
                    e.summary
                ));
            }
        }
    }
    page
}
