//! Engine.IO v4 over WebSocket text frames: one packet per frame,
//! `<type digit>[<data>]`. Polling payloads (`\x1e`, `b…`) are in
//! `protocol::polling`; an upgrade packet `5` is only valid on the WebSocket
//! that probed a polling session (`gateway::polling`), so here it is an error.

use serde::{Deserialize, Serialize};
use shared_types::limits::MAX_WS_FRAME_BYTES;

use crate::protocol::error::ProtocolError;
use crate::protocol::heartbeat::HeartbeatConfig;

/// The payload of the open packet (`0{…}`), in the exact field order the
/// reference server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenHandshake {
    pub sid: String,
    /// Empty on a WebSocket; `["websocket"]` on a polling handshake.
    pub upgrades: Vec<String>,
    pub ping_interval: u64,
    pub ping_timeout: u64,
    pub max_payload: u64,
}

impl OpenHandshake {
    pub fn new(sid: impl Into<String>, heartbeat: HeartbeatConfig) -> Self {
        Self {
            sid: sid.into(),
            upgrades: Vec::new(),
            ping_interval: heartbeat.ping_interval_ms,
            ping_timeout: heartbeat.ping_timeout_ms,
            max_payload: MAX_WS_FRAME_BYTES as u64,
        }
    }
}

/// One Engine.IO packet. Text payloads borrow from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EioPacket<'a> {
    Open(OpenHandshake),
    Close,
    /// Payload is usually empty; `probe` during upgrades, echoed in the pong.
    Ping(&'a str),
    Pong(&'a str),
    /// A Socket.IO packet, still encoded.
    Message(&'a str),
    Noop,
}

/// Decodes one WebSocket text frame. Enforces the advertised `maxPayload`.
pub fn decode_text_frame(frame: &str) -> Result<EioPacket<'_>, ProtocolError> {
    if frame.len() > MAX_WS_FRAME_BYTES {
        return Err(ProtocolError::FrameTooLarge {
            len: frame.len(),
            max: MAX_WS_FRAME_BYTES,
        });
    }
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(ProtocolError::EmptyFrame)?;
    // `chars.as_str()` is the rest after the first char, whatever its width.
    let data = chars.as_str();
    match kind {
        '0' => serde_json::from_str(data)
            .map(EioPacket::Open)
            .map_err(|e| ProtocolError::InvalidOpen(e.to_string())),
        // close and noop carry no data; tolerate any, as the reference parser does
        '1' => Ok(EioPacket::Close),
        '2' => Ok(EioPacket::Ping(data)),
        '3' => Ok(EioPacket::Pong(data)),
        '4' => Ok(EioPacket::Message(data)),
        '5' => Err(ProtocolError::UpgradeNotSupported),
        '6' => Ok(EioPacket::Noop),
        other => Err(ProtocolError::UnknownEnginePacket(other)),
    }
}

/// Binary WebSocket frames are never valid here (no binary attachments).
pub fn decode_binary_frame(len: usize) -> ProtocolError {
    if len > MAX_WS_FRAME_BYTES {
        ProtocolError::FrameTooLarge {
            len,
            max: MAX_WS_FRAME_BYTES,
        }
    } else {
        ProtocolError::BinaryFrame
    }
}

pub fn encode(packet: &EioPacket<'_>) -> String {
    match packet {
        EioPacket::Open(handshake) => open_frame(handshake),
        EioPacket::Close => "1".to_owned(),
        EioPacket::Ping(data) => format!("2{data}"),
        EioPacket::Pong(data) => format!("3{data}"),
        EioPacket::Message(data) => format!("4{data}"),
        EioPacket::Noop => "6".to_owned(),
    }
}

/// `0{"sid":…,"upgrades":[],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`
pub fn open_frame(handshake: &OpenHandshake) -> String {
    // serializing a struct of strings and integers cannot fail
    let json = serde_json::to_string(handshake).unwrap_or_default();
    format!("0{json}")
}

/// The server's ping frame.
pub const PING_FRAME: &str = "2";

/// Wraps an encoded Socket.IO packet into its Engine.IO message frame.
pub fn message_frame(socketio_packet: &str) -> String {
    format!("4{socketio_packet}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_frame_is_exact() {
        let h = OpenHandshake::new("lv_VI97HAXpY6yYWAAAC", HeartbeatConfig::default());
        assert_eq!(
            open_frame(&h),
            r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":65536}"#
        );
    }

    #[test]
    fn decodes_every_packet_type_of_the_spec() {
        assert_eq!(decode_text_frame("1"), Ok(EioPacket::Close));
        assert_eq!(decode_text_frame("2"), Ok(EioPacket::Ping("")));
        assert_eq!(decode_text_frame("2probe"), Ok(EioPacket::Ping("probe")));
        assert_eq!(decode_text_frame("3"), Ok(EioPacket::Pong("")));
        assert_eq!(decode_text_frame("3probe"), Ok(EioPacket::Pong("probe")));
        assert_eq!(decode_text_frame("4hello"), Ok(EioPacket::Message("hello")));
        assert_eq!(
            decode_text_frame("42[\"foo\"]"),
            Ok(EioPacket::Message("2[\"foo\"]"))
        );
        assert_eq!(decode_text_frame("4"), Ok(EioPacket::Message("")));
        assert_eq!(decode_text_frame("6"), Ok(EioPacket::Noop));
        assert_eq!(
            decode_text_frame("5"),
            Err(ProtocolError::UpgradeNotSupported)
        );
    }

    #[test]
    fn round_trips() {
        let h = OpenHandshake::new("abc", HeartbeatConfig::new(1_000, 2_000).unwrap());
        let packets = [
            EioPacket::Open(h),
            EioPacket::Close,
            EioPacket::Ping(""),
            EioPacket::Ping("probe"),
            EioPacket::Pong("probe"),
            EioPacket::Message("2/messaging,[\"x\",\"€\"]"),
            EioPacket::Noop,
        ];
        for p in packets {
            let encoded = encode(&p);
            assert_eq!(decode_text_frame(&encoded), Ok(p));
        }
    }

    #[test]
    fn multibyte_payloads_are_not_split() {
        assert_eq!(decode_text_frame("4€🙂"), Ok(EioPacket::Message("€🙂")));
        assert_eq!(
            decode_text_frame("€4"),
            Err(ProtocolError::UnknownEnginePacket('€'))
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let garbage = [
            "",
            "7",
            "9",
            "x",
            " 4",
            "\u{0}",
            "٣",
            "🙂",
            "\u{1e}4x",
            "0",
            "0{",
            "0[]",
            "0{\"sid\":1}",
            "b4AQID",
        ];
        for g in garbage {
            assert!(decode_text_frame(g).is_err(), "{g:?} should be rejected");
        }
    }

    #[test]
    fn frame_size_limit_is_enforced_in_bytes() {
        let exact = format!("4{}", "a".repeat(MAX_WS_FRAME_BYTES - 1));
        assert!(decode_text_frame(&exact).is_ok());
        let over = format!("4{}", "€".repeat(MAX_WS_FRAME_BYTES / 3 + 1));
        assert_eq!(
            decode_text_frame(&over),
            Err(ProtocolError::FrameTooLarge {
                len: over.len(),
                max: MAX_WS_FRAME_BYTES
            })
        );
    }

    #[test]
    fn binary_frames_are_rejected() {
        assert_eq!(decode_binary_frame(4), ProtocolError::BinaryFrame);
        assert!(matches!(
            decode_binary_frame(MAX_WS_FRAME_BYTES + 1),
            ProtocolError::FrameTooLarge { .. }
        ));
    }

    #[test]
    fn helpers() {
        assert_eq!(PING_FRAME, "2");
        assert_eq!(message_frame("0/messaging,"), "40/messaging,");
    }
}
