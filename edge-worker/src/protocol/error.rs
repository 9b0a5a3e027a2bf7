//! The one error type of the wire codecs. Every variant means "this peer does
//! not speak our protocol": the glue closes the socket with `close_code()` and
//! `close_reason()`; nothing here ever panics on input.

use thiserror::Error;

/// WebSocket close codes the edge uses (RFC 6455 §7.4.1).
pub mod close_code {
    /// Client asked to close, or a timeout ended an idle/dead connection.
    pub const NORMAL: u16 = 1000;
    /// The peer sent something that is not Engine.IO v4 / Socket.IO v5.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Binary frames: we only speak the text encoding.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A frame larger than the advertised `maxPayload`.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("empty frame")]
    EmptyFrame,
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("binary frames are not supported")]
    BinaryFrame,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEnginePacket(char),
    #[error("unexpected upgrade packet: only a probed WebSocket upgrades a polling session")]
    UpgradeNotSupported,
    #[error("invalid Engine.IO open packet: {0}")]
    InvalidOpen(String),
    #[error("empty Socket.IO packet")]
    EmptySocketPacket,
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownSocketPacket(char),
    #[error("binary attachments not supported")]
    BinaryAttachments,
    #[error("ack id out of range")]
    AckIdOutOfRange,
    #[error("invalid JSON payload: {0}")]
    InvalidJson(String),
    #[error("invalid {packet} payload: {reason}")]
    InvalidPayload {
        packet: &'static str,
        reason: &'static str,
    },
}

impl ProtocolError {
    /// The WebSocket close code the glue should use.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::FrameTooLarge { .. } => close_code::MESSAGE_TOO_BIG,
            Self::BinaryFrame | Self::BinaryAttachments => close_code::UNSUPPORTED_DATA,
            _ => close_code::PROTOCOL_ERROR,
        }
    }

    /// A short, static close reason (WebSocket reasons must stay under 123 bytes
    /// and must not echo client input).
    pub fn close_reason(&self) -> &'static str {
        match self {
            Self::EmptyFrame => "empty frame",
            Self::FrameTooLarge { .. } => "frame too large",
            Self::BinaryFrame => "binary frames are not supported",
            Self::UnknownEnginePacket(_) => "unknown engine.io packet type",
            Self::UpgradeNotSupported => "unexpected upgrade packet",
            Self::InvalidOpen(_) => "unexpected open packet",
            Self::EmptySocketPacket => "empty socket.io packet",
            Self::UnknownSocketPacket(_) => "unknown socket.io packet type",
            Self::BinaryAttachments => "binary attachments not supported",
            Self::AckIdOutOfRange => "ack id out of range",
            Self::InvalidJson(_) => "invalid json payload",
            Self::InvalidPayload { .. } => "invalid socket.io payload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_in_a_websocket_close_frame() {
        let all = [
            ProtocolError::EmptyFrame,
            ProtocolError::FrameTooLarge { len: 1, max: 0 },
            ProtocolError::BinaryFrame,
            ProtocolError::UnknownEnginePacket('x'),
            ProtocolError::UpgradeNotSupported,
            ProtocolError::InvalidOpen("x".into()),
            ProtocolError::EmptySocketPacket,
            ProtocolError::UnknownSocketPacket('x'),
            ProtocolError::BinaryAttachments,
            ProtocolError::AckIdOutOfRange,
            ProtocolError::InvalidJson("x".into()),
            ProtocolError::InvalidPayload {
                packet: "EVENT",
                reason: "x",
            },
        ];
        for e in all {
            assert!(e.close_reason().len() <= 123, "{e}");
            assert!((1000..5000).contains(&e.close_code()));
        }
    }

    #[test]
    fn codes_distinguish_size_binary_and_garbage() {
        assert_eq!(
            ProtocolError::FrameTooLarge { len: 2, max: 1 }.close_code(),
            1009
        );
        assert_eq!(ProtocolError::BinaryFrame.close_code(), 1003);
        assert_eq!(ProtocolError::UnknownEnginePacket('9').close_code(), 1002);
    }
}
