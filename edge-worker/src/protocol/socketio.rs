//! Socket.IO v5 packets, carried inside Engine.IO message packets.
//!
//! Text encoding (the default parser): `<type>[<nsp>,][<ackId>][<json>]`.
//! The main namespace `/` omits the `<nsp>,` part. Binary packets (`5`/`6`)
//! are refused: this edge never negotiates binary attachments.
//!
//! `decode` takes the Socket.IO text (after the Engine.IO `4`); the frame
//! helpers (`connect_ok`, `event`, `ack`, …) return complete WebSocket text
//! frames, Engine.IO prefix included, ready to send.

use serde::Serialize;
use serde_json::{Map, Value};
use shared_types::socket::{Ack, ConnectError};

use crate::protocol::engineio::message_frame;
use crate::protocol::error::ProtocolError;

pub const DEFAULT_NAMESPACE: &str = "/";
/// Largest ack id accepted: JavaScript clients cannot count past 2^53 exactly,
/// so a bigger id could never be matched on their side.
pub const MAX_ACK_ID: u64 = (1 << 53) - 1;
/// Event names with a special meaning in the reference implementations.
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// A decoded, shape-checked Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub enum SioPacket {
    /// Client → server: `data` is the `auth` object. Server → client: `{sid}`.
    Connect {
        nsp: String,
        data: Option<Map<String, Value>>,
    },
    Disconnect {
        nsp: String,
    },
    /// `args` are the arguments after the event name.
    Event {
        nsp: String,
        ack_id: Option<u64>,
        name: String,
        args: Vec<Value>,
    },
    Ack {
        nsp: String,
        ack_id: u64,
        args: Vec<Value>,
    },
    ConnectError {
        nsp: String,
        data: Value,
    },
}

impl SioPacket {
    pub fn nsp(&self) -> &str {
        match self {
            Self::Connect { nsp, .. }
            | Self::Disconnect { nsp }
            | Self::Event { nsp, .. }
            | Self::Ack { nsp, .. }
            | Self::ConnectError { nsp, .. } => nsp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
}

impl Kind {
    fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Connect => "CONNECT",
            Kind::Disconnect => "DISCONNECT",
            Kind::Event => "EVENT",
            Kind::Ack => "ACK",
            Kind::ConnectError => "CONNECT_ERROR",
        }
    }
}

/// Decodes the Socket.IO text of one Engine.IO message packet.
pub fn decode(text: &str) -> Result<SioPacket, ProtocolError> {
    let mut chars = text.chars();
    let kind = match chars.next().ok_or(ProtocolError::EmptySocketPacket)? {
        '0' => Kind::Connect,
        '1' => Kind::Disconnect,
        '2' => Kind::Event,
        '3' => Kind::Ack,
        '4' => Kind::ConnectError,
        '5' | '6' => return Err(ProtocolError::BinaryAttachments),
        other => return Err(ProtocolError::UnknownSocketPacket(other)),
    };
    let (nsp, rest) = split_namespace(chars.as_str());
    let (ack_id, rest) = split_ack_id(rest)?;
    let payload = if rest.is_empty() {
        None
    } else {
        Some(
            serde_json::from_str::<Value>(rest)
                .map_err(|e| ProtocolError::InvalidJson(e.to_string()))?,
        )
    };
    build(kind, nsp.to_owned(), ack_id, payload)
}

/// `/nsp,rest` → (`/nsp`, `rest`); a namespace with nothing after it may omit
/// the comma (`1/messaging`); anything not starting with `/` is the main namespace.
fn split_namespace(rest: &str) -> (&str, &str) {
    if !rest.starts_with('/') {
        return (DEFAULT_NAMESPACE, rest);
    }
    // ',' is ASCII, so both slices fall on char boundaries
    match rest.find(',') {
        Some(comma) => (&rest[..comma], &rest[comma + 1..]),
        None => (rest, ""),
    }
}

fn split_ack_id(rest: &str) -> Result<(Option<u64>, &str), ProtocolError> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok((None, rest));
    }
    let mut id: u64 = 0;
    for b in rest.bytes().take(digits) {
        id = id
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .filter(|v| *v <= MAX_ACK_ID)
            .ok_or(ProtocolError::AckIdOutOfRange)?;
    }
    Ok((Some(id), &rest[digits..]))
}

fn invalid(kind: Kind, reason: &'static str) -> ProtocolError {
    ProtocolError::InvalidPayload {
        packet: kind.name(),
        reason,
    }
}

fn build(
    kind: Kind,
    nsp: String,
    ack_id: Option<u64>,
    payload: Option<Value>,
) -> Result<SioPacket, ProtocolError> {
    if ack_id.is_some() && !matches!(kind, Kind::Event | Kind::Ack) {
        return Err(invalid(kind, "unexpected ack id"));
    }
    match kind {
        Kind::Connect => match payload {
            None => Ok(SioPacket::Connect { nsp, data: None }),
            Some(Value::Object(data)) => Ok(SioPacket::Connect {
                nsp,
                data: Some(data),
            }),
            Some(_) => Err(invalid(kind, "must be an object")),
        },
        Kind::Disconnect => match payload {
            None => Ok(SioPacket::Disconnect { nsp }),
            Some(_) => Err(invalid(kind, "must be empty")),
        },
        Kind::Event => {
            let Some(Value::Array(mut args)) = payload else {
                return Err(invalid(kind, "must be an array"));
            };
            if args.is_empty() {
                return Err(invalid(kind, "must not be empty"));
            }
            let Value::String(name) = args.remove(0) else {
                return Err(invalid(kind, "event name must be a string"));
            };
            if RESERVED_EVENTS.contains(&name.as_str()) {
                return Err(invalid(kind, "reserved event name"));
            }
            Ok(SioPacket::Event {
                nsp,
                ack_id,
                name,
                args,
            })
        }
        Kind::Ack => {
            let ack_id = ack_id.ok_or_else(|| invalid(kind, "missing ack id"))?;
            match payload {
                Some(Value::Array(args)) => Ok(SioPacket::Ack { nsp, ack_id, args }),
                _ => Err(invalid(kind, "must be an array")),
            }
        }
        Kind::ConnectError => match payload {
            Some(data @ (Value::Object(_) | Value::String(_))) => {
                Ok(SioPacket::ConnectError { nsp, data })
            }
            _ => Err(invalid(kind, "must be an object or a string")),
        },
    }
}

/// Encodes the Socket.IO text (without the Engine.IO `4`).
pub fn encode(packet: &SioPacket) -> String {
    match packet {
        SioPacket::Connect { nsp, data } => {
            encode_parts(Kind::Connect, nsp, None, data.as_ref().map(to_json))
        }
        SioPacket::Disconnect { nsp } => encode_parts(Kind::Disconnect, nsp, None, None),
        SioPacket::Event {
            nsp,
            ack_id,
            name,
            args,
        } => {
            let mut all = Vec::with_capacity(args.len() + 1);
            all.push(Value::String(name.clone()));
            all.extend(args.iter().cloned());
            encode_parts(Kind::Event, nsp, *ack_id, Some(to_json(&all)))
        }
        SioPacket::Ack { nsp, ack_id, args } => {
            encode_parts(Kind::Ack, nsp, Some(*ack_id), Some(to_json(args)))
        }
        SioPacket::ConnectError { nsp, data } => {
            encode_parts(Kind::ConnectError, nsp, None, Some(to_json(data)))
        }
    }
}

/// The complete WebSocket frame for a packet: `4` + `encode(packet)`.
pub fn frame(packet: &SioPacket) -> String {
    message_frame(&encode(packet))
}

fn encode_parts(kind: Kind, nsp: &str, ack_id: Option<u64>, json: Option<String>) -> String {
    let mut out = String::with_capacity(nsp.len() + json.as_ref().map_or(0, String::len) + 24);
    out.push(kind.digit());
    if nsp != DEFAULT_NAMESPACE && !nsp.is_empty() {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = ack_id {
        out.push_str(&id.to_string());
    }
    if let Some(json) = json {
        out.push_str(&json);
    }
    out
}

/// Our payloads are plain data (string keys, no floats from user input beyond
/// what `Value` already holds), so serialization cannot fail; `null` is a safe
/// fallback that keeps this path panic-free regardless.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// The reply to a successful namespace CONNECT: `40/messaging,{"sid":"…"}`.
pub fn connect_ok(nsp: &str, sid: &str) -> String {
    connect_ok_with_pid(nsp, sid, None)
}

/// The same with the private session id of connection-state recovery:
/// `40/messaging,{"sid":"…","pid":"…"}` (`gateway::recovery`).
pub fn connect_ok_with_pid(nsp: &str, sid: &str, pid: Option<&str>) -> String {
    // `sid` first, as the reference server writes it (a map would sort the keys)
    let mut data = format!("{{\"sid\":{}", to_json(sid));
    if let Some(pid) = pid {
        data.push_str(&format!(",\"pid\":{}", to_json(pid)));
    }
    data.push('}');
    message_frame(&encode_parts(Kind::Connect, nsp, None, Some(data)))
}

/// `44/messaging,{"message":…,"data":{"code":…}}`
pub fn connect_error(nsp: &str, error: &ConnectError) -> String {
    message_frame(&encode_parts(
        Kind::ConnectError,
        nsp,
        None,
        Some(to_json(error)),
    ))
}

/// A server → client event with one data argument: `42/messaging,["name",data]`.
pub fn event(nsp: &str, name: &str, data: &Value) -> String {
    message_frame(&encode_parts(
        Kind::Event,
        nsp,
        None,
        Some(to_json(&(name, data))),
    ))
}

/// `event` around data that is already JSON text (core's, passed through
/// the edge unparsed): the same frame, without building a value.
pub fn event_raw(nsp: &str, name: &str, data_json: &str) -> String {
    let json = format!("[{},{data_json}]", to_json(name));
    message_frame(&encode_parts(Kind::Event, nsp, None, Some(json)))
}

/// An EVENT frame moved to another namespace (`42/messaging,[…]` →
/// `42/notifications,[…]`); `None` if `frame` is not an EVENT of `from`.
pub fn with_namespace(frame: &str, from: &str, to: &str) -> Option<String> {
    let prefix = |nsp: &str| {
        if nsp == DEFAULT_NAMESPACE || nsp.is_empty() {
            "42".to_owned()
        } else {
            format!("42{nsp},")
        }
    };
    let rest = frame.strip_prefix(&prefix(from))?;
    rest.starts_with('[')
        .then(|| format!("{}{rest}", prefix(to)))
}

/// Answers the client's ack callback: `43/messaging,12[{"ok":true,…}]`.
pub fn ack(nsp: &str, ack_id: u64, response: &Ack) -> String {
    message_frame(&encode_parts(
        Kind::Ack,
        nsp,
        Some(ack_id),
        Some(to_json(&[response])),
    ))
}

/// The ACK `[{"ok":true,"data":<data_json>}]`, as `ack` makes it for
/// `Ack::ok`, around JSON that is already serialised (a message in core's
/// answer): it is not parsed into a value and written again.
pub fn ack_ok_raw(nsp: &str, ack_id: u64, data_json: &str) -> String {
    let json = format!("[{{\"ok\":true,\"data\":{data_json}}}]");
    message_frame(&encode_parts(Kind::Ack, nsp, Some(ack_id), Some(json)))
}

/// Server-side disconnect of one namespace: `41/messaging,`.
pub fn disconnect(nsp: &str) -> String {
    message_frame(&encode_parts(Kind::Disconnect, nsp, None, None))
}

#[cfg(test)]
mod tests;
