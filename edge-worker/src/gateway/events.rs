//! Client → server event payloads of `/messaging`, parsed and validated into
//! typed requests. A rejection is the ack the client gets back immediately.
//! `send_message` is checked by `shared_types::api::ValidSend`, the rules core
//! applies too (core re-checks; this only keeps bad input from costing a round
//! trip). A `client_msg_id` is optional, as at core; clients that retry sends
//! on reconnect should give one, or a retry stores the message twice.

use serde::de::DeserializeOwned;
use serde_json::Value;
use shared_types::api::{SendMessage, ValidSend};
use shared_types::internal::MarkReceipt;
use shared_types::socket::{client_events, Ack, ConversationRef, MessageRef, ReceiptKind};
use shared_types::ErrorCode;
use uuid::Uuid;

/// Longest client-derived text echoed back in an error message.
pub(crate) const MAX_ECHO_BYTES: usize = 160;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagingEvent {
    JoinConversation(Uuid),
    LeaveConversation(Uuid),
    /// Boxed: a send is far larger than the other events.
    SendMessage(Box<ValidSend>),
    Typing {
        conversation_id: Uuid,
        typing: bool,
    },
    /// `message_read` or `message_delivered`.
    Receipt(Receipt),
}

/// A message marked read or delivered, for core to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub kind: ReceiptKind,
    pub message: MessageRef,
}

impl Receipt {
    /// Core's route for it (`/internal/v1/receipts/{kind}`).
    pub fn path(&self) -> &'static str {
        match self.kind {
            ReceiptKind::Read => "/internal/v1/receipts/read",
            ReceiptKind::Delivered => "/internal/v1/receipts/delivered",
        }
    }

    pub fn body(&self) -> MarkReceipt {
        MarkReceipt {
            conversation_id: self.message.conversation_id,
            message_id: self.message.message_id,
        }
    }
}

/// Parses `socket.emit(name, payload, ack)` on `/messaging`. `Err` is the ack
/// error to answer with: `BAD_REQUEST` for an unknown event,
/// `VALIDATION_ERROR` for a bad or missing payload.
pub fn parse_messaging_event(name: &str, args: &[Value]) -> Result<MessagingEvent, Ack> {
    match name {
        client_events::JOIN_CONVERSATION => payload::<ConversationRef>(args)
            .map(|r| MessagingEvent::JoinConversation(r.conversation_id)),
        client_events::LEAVE_CONVERSATION => payload::<ConversationRef>(args)
            .map(|r| MessagingEvent::LeaveConversation(r.conversation_id)),
        client_events::TYPING_START | client_events::TYPING_STOP => {
            payload::<ConversationRef>(args).map(|r| MessagingEvent::Typing {
                conversation_id: r.conversation_id,
                typing: name == client_events::TYPING_START,
            })
        }
        client_events::MESSAGE_READ | client_events::MESSAGE_DELIVERED => {
            let kind = if name == client_events::MESSAGE_READ {
                ReceiptKind::Read
            } else {
                ReceiptKind::Delivered
            };
            payload::<MessageRef>(args)
                .map(|message| MessagingEvent::Receipt(Receipt { kind, message }))
        }
        client_events::SEND_MESSAGE => {
            let message = payload::<SendMessage>(args)?;
            let valid = ValidSend::try_from(message)
                .map_err(|m| Ack::err(ErrorCode::ValidationError, m))?;
            Ok(MessagingEvent::SendMessage(Box::new(valid)))
        }
        other => Err(Ack::err(
            ErrorCode::BadRequest,
            format!("unknown event `{}`", truncate(other, MAX_ECHO_BYTES)),
        )),
    }
}

/// The first argument, which must be a JSON object of shape `T`.
pub(crate) fn payload<T: DeserializeOwned>(args: &[Value]) -> Result<T, Ack> {
    let Some(first @ Value::Object(_)) = args.first() else {
        return Err(Ack::err(
            ErrorCode::ValidationError,
            "expected an object as the first argument",
        ));
    };
    T::deserialize(first).map_err(|e| {
        Ack::err(
            ErrorCode::ValidationError,
            format!(
                "invalid payload: {}",
                truncate(&e.to_string(), MAX_ECHO_BYTES)
            ),
        )
    })
}

/// Cuts `text` to at most `max` bytes on a char boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared_types::api::MessageKind;

    use super::*;

    const CID: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";
    const MID: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7c";

    fn cid() -> Uuid {
        Uuid::parse_str(CID).unwrap()
    }

    fn code(result: Result<MessagingEvent, Ack>) -> ErrorCode {
        result.unwrap_err().error.unwrap().code
    }

    #[test]
    fn parses_every_messaging_event() {
        let conv = [json!({ "conversation_id": CID })];
        assert_eq!(
            parse_messaging_event("join_conversation", &conv),
            Ok(MessagingEvent::JoinConversation(cid()))
        );
        assert_eq!(
            parse_messaging_event("leave_conversation", &conv),
            Ok(MessagingEvent::LeaveConversation(cid()))
        );
        assert_eq!(
            parse_messaging_event("typing_start", &conv),
            Ok(MessagingEvent::Typing {
                conversation_id: cid(),
                typing: true
            })
        );
        assert_eq!(
            parse_messaging_event("typing_stop", &conv),
            Ok(MessagingEvent::Typing {
                conversation_id: cid(),
                typing: false
            })
        );
        let msg = [json!({ "conversation_id": CID, "message_id": MID })];
        let expected = MessageRef {
            conversation_id: cid(),
            message_id: Uuid::parse_str(MID).unwrap(),
        };
        assert_eq!(
            parse_messaging_event("message_read", &msg),
            Ok(MessagingEvent::Receipt(Receipt {
                kind: ReceiptKind::Read,
                message: expected.clone()
            }))
        );
        assert_eq!(
            parse_messaging_event("message_delivered", &msg),
            Ok(MessagingEvent::Receipt(Receipt {
                kind: ReceiptKind::Delivered,
                message: expected
            }))
        );
        let send = [json!({ "conversation_id": CID, "content": "hi", "client_msg_id": "c1" })];
        let Ok(MessagingEvent::SendMessage(m)) = parse_messaging_event("send_message", &send)
        else {
            panic!()
        };
        assert_eq!(
            (m.kind, m.content.as_deref(), m.client_msg_id.as_deref()),
            (MessageKind::Text, Some("hi"), Some("c1"))
        );
    }

    #[test]
    fn unknown_events_are_bad_requests() {
        assert_eq!(
            code(parse_messaging_event("hack", &[])),
            ErrorCode::BadRequest
        );
        let long = "é".repeat(500);
        let ack = parse_messaging_event(&long, &[]).unwrap_err();
        assert!(ack.error.unwrap().message.len() < 200);
    }

    #[test]
    fn bad_payloads_are_validation_errors() {
        let cases: Vec<(&str, Vec<Value>)> = vec![
            ("join_conversation", vec![]),
            ("join_conversation", vec![json!("id")]),
            ("join_conversation", vec![json!({})]),
            (
                "join_conversation",
                vec![json!({ "conversation_id": "not-a-uuid" })],
            ),
            ("join_conversation", vec![json!({ "conversation_id": 5 })]),
            ("typing_start", vec![json!(null)]),
            ("message_read", vec![json!({ "conversation_id": CID })]),
            (
                "send_message",
                vec![json!({ "content": "hi", "client_msg_id": "c" })],
            ),
            (
                "send_message",
                vec![json!({ "conversation_id": CID, "content": "  ", "client_msg_id": "c" })],
            ),
            (
                "send_message",
                vec![json!({ "conversation_id": CID, "content": "x", "client_msg_id": "" })],
            ),
            (
                "send_message",
                vec![json!({ "conversation_id": CID, "content": "x", "client_msg_id": "   " })],
            ),
            (
                "send_message",
                vec![
                    json!({ "conversation_id": CID, "content": "x", "client_msg_id": "c".repeat(65) }),
                ],
            ),
            (
                "send_message",
                vec![
                    json!({ "conversation_id": CID, "content": "x".repeat(4001), "client_msg_id": "c" }),
                ],
            ),
            (
                "send_message",
                vec![
                    json!({ "conversation_id": CID, "type": "system", "content": "x", "client_msg_id": "c" }),
                ],
            ),
            (
                // polls are created over REST, never sent as a message
                "send_message",
                vec![
                    json!({ "conversation_id": CID, "type": "poll", "content": "x", "client_msg_id": "c" }),
                ],
            ),
            (
                "send_message",
                vec![json!({ "conversation_id": CID, "type": "image", "client_msg_id": "c" })],
            ),
            (
                "send_message",
                vec![
                    json!({ "conversation_id": CID, "type": "sticker", "content": "x", "client_msg_id": "c" }),
                ],
            ),
        ];
        for (name, args) in cases {
            assert_eq!(
                code(parse_messaging_event(name, &args)),
                ErrorCode::ValidationError,
                "{name} {args:?}"
            );
        }
    }

    #[test]
    fn a_send_without_client_msg_id_is_accepted() {
        let send = [json!({ "conversation_id": CID, "content": "hi" })];
        let Ok(MessagingEvent::SendMessage(m)) = parse_messaging_event("send_message", &send)
        else {
            panic!("refused")
        };
        assert_eq!(m.client_msg_id, None);
    }

    #[test]
    fn content_limit_counts_characters_not_bytes() {
        let ok =
            json!({ "conversation_id": CID, "content": "€".repeat(4000), "client_msg_id": "c" });
        assert!(parse_messaging_event("send_message", &[ok]).is_ok());
    }

    #[test]
    fn attachments_are_checked() {
        let image = json!({
            "conversation_id": CID, "type": "image", "client_msg_id": "c",
            "attachment": { "object_key": "k", "content_type": "image/png", "size_bytes": 10 }
        });
        assert!(parse_messaging_event("send_message", std::slice::from_ref(&image)).is_ok());
        let mut empty = image.clone();
        empty["attachment"]["size_bytes"] = json!(0);
        assert_eq!(
            code(parse_messaging_event("send_message", &[empty])),
            ErrorCode::ValidationError
        );
        let mut text_with_file = image;
        text_with_file["type"] = json!("text");
        text_with_file["content"] = json!("x");
        assert_eq!(
            code(parse_messaging_event("send_message", &[text_with_file])),
            ErrorCode::ValidationError
        );
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("🙂", 3), "");
    }
}
