//! Engine.IO v4 HTTP long-polling payloads: the packets of one request or
//! response body, separated by the record separator `\x1e`; a binary packet
//! is `b` followed by its base64. Each text packet is the same
//! `<type digit>[<data>]` as a WebSocket frame (`protocol::engineio`).

use crate::protocol::error::ProtocolError;

/// Between two packets of a payload.
pub const SEPARATOR: char = '\u{1e}';

/// One packet of a polling payload, still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadPacket<'a> {
    /// A text packet, as a WebSocket text frame would carry it.
    Text(&'a str),
    /// A binary packet (`b<base64>`), decoded.
    Binary(Vec<u8>),
}

/// The packets of a POST body whose size the caller already bounded.
/// An empty body is no packet; an empty packet is an error (as in the
/// reference parser, which decodes it as an error packet).
pub fn decode_payload(body: &str) -> Result<Vec<PayloadPacket<'_>>, ProtocolError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split(SEPARATOR)
        .map(|packet| match packet.strip_prefix('b') {
            Some(b64) => {
                base64_decode(b64)
                    .map(PayloadPacket::Binary)
                    .ok_or(ProtocolError::InvalidPayload {
                        packet: "binary",
                        reason: "invalid base64",
                    })
            }
            None if packet.is_empty() => Err(ProtocolError::EmptyFrame),
            None => Ok(PayloadPacket::Text(packet)),
        })
        .collect()
}

/// A GET response body: the packets joined by the separator.
pub fn encode_payload<S: AsRef<str>>(packets: &[S]) -> String {
    let len = packets.iter().map(|p| p.as_ref().len() + 1).sum();
    let mut body = String::with_capacity(len);
    for (i, packet) in packets.iter().enumerate() {
        if i > 0 {
            body.push(SEPARATOR);
        }
        body.push_str(packet.as_ref());
    }
    body
}

/// A binary packet as it appears in a payload: `b` and its base64.
pub fn encode_binary(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    out.push('b');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Standard base64 with padding, as the reference parser writes it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let last = index + 1 == bytes.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk[..4 - pad].iter().enumerate() {
            n |= base64_value(*c)? << (18 - 6 * i);
        }
        for i in 0..(3 - pad) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_packets_separated_by_the_record_separator() {
        // the sample of the Engine.IO v4 protocol document
        assert_eq!(
            decode_payload("4hello\u{1e}4€\u{1e}2"),
            Ok(vec![
                PayloadPacket::Text("4hello"),
                PayloadPacket::Text("4€"),
                PayloadPacket::Text("2"),
            ])
        );
        assert_eq!(decode_payload("3"), Ok(vec![PayloadPacket::Text("3")]));
        assert_eq!(decode_payload(""), Ok(vec![]));
        assert_eq!(
            encode_payload(&["4hello", "4€", "6"]),
            "4hello\u{1e}4€\u{1e}6"
        );
        assert_eq!(encode_payload(&["2"]), "2");
        assert_eq!(encode_payload::<&str>(&[]), "");
    }

    #[test]
    fn binary_packets_are_b_and_base64() {
        assert_eq!(
            decode_payload("4hello\u{1e}bAQIDBA=="),
            Ok(vec![
                PayloadPacket::Text("4hello"),
                PayloadPacket::Binary(vec![1, 2, 3, 4]),
            ])
        );
        assert_eq!(encode_binary(&[1, 2, 3, 4]), "bAQIDBA==");
        for len in 0..10u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(97).wrapping_add(200))
                .collect();
            let encoded = encode_binary(&bytes);
            assert_eq!(
                decode_payload(&encoded),
                Ok(vec![PayloadPacket::Binary(bytes)])
            );
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for bad in [
            "4a\u{1e}",
            "\u{1e}4a",
            "4a\u{1e}\u{1e}4b",
            "bAQI",
            "b!!!!",
            "bA===",
            "bAQ==AQID",
        ] {
            assert!(decode_payload(bad).is_err(), "{bad:?}");
        }
    }
}
