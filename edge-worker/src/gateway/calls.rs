//! Client → server events of `/calls`, parsed and checked into the request
//! that carries each to core (`/internal/v1/calls…`, signed as the user).
//! Core is authoritative (membership, participation, the call's state) and
//! records every change; this only keeps bad input from costing a round
//! trip, with the same rules (`shared_types::calls::Signal::check`).

use serde_json::Value;
use shared_types::calls::{BadSignal, CallRef, InviteCall, SendSignal};
use shared_types::socket::{client_events, Ack};
use shared_types::ErrorCode;
use uuid::Uuid;

use crate::gateway::dispatch::AckHandle;
use crate::gateway::events::{payload, truncate, MAX_ECHO_BYTES};

/// What a `/calls` event asks core to do.
#[derive(Debug, Clone, PartialEq)]
pub enum CallRequest {
    Invite(InviteCall),
    /// `accept`, `reject`, `leave` or `end`.
    Act {
        call_id: Uuid,
        action: &'static str,
    },
    Signal(SendSignal),
}

impl CallRequest {
    /// The internal route at core.
    pub fn path(&self) -> String {
        match self {
            Self::Invite(_) => "/internal/v1/calls".into(),
            Self::Act { call_id, action } => format!("/internal/v1/calls/{call_id}/{action}"),
            Self::Signal(s) => format!("/internal/v1/calls/{}/signal", s.call_id),
        }
    }

    /// The JSON body of that route.
    pub fn body(&self) -> Value {
        match self {
            Self::Invite(invite) => serde_json::to_value(invite).unwrap_or_default(),
            Self::Act { .. } => Value::Object(Default::default()),
            Self::Signal(s) => serde_json::to_value(&s.signal).unwrap_or_default(),
        }
    }
}

/// Parses `socket.emit(name, payload, ack)` on `/calls` from `user_id`.
/// `Err` is the ack to answer with: `BAD_REQUEST` for an unknown event,
/// `VALIDATION_ERROR` for a bad payload (ids, type, kind, a signal to
/// oneself), `PAYLOAD_TOO_LARGE` for a signal over 16 KiB.
pub fn parse_call_event(name: &str, args: &[Value], user_id: &str) -> Result<CallRequest, Ack> {
    let act = |action: &'static str| {
        payload::<CallRef>(args).map(|r| CallRequest::Act {
            call_id: r.call_id,
            action,
        })
    };
    match name {
        client_events::CALL_INVITE => payload::<InviteCall>(args).map(CallRequest::Invite),
        client_events::CALL_ACCEPT => act("accept"),
        client_events::CALL_REJECT => act("reject"),
        client_events::CALL_LEAVE => act("leave"),
        client_events::CALL_END => act("end"),
        client_events::CALL_SIGNAL => {
            let send = payload::<SendSignal>(args)?;
            send.signal.check(user_id).map_err(|e| match e {
                BadSignal::Invalid(m) => Ack::err(ErrorCode::ValidationError, m),
                BadSignal::TooLarge(m) => Ack::err(ErrorCode::PayloadTooLarge, m),
            })?;
            Ok(CallRequest::Signal(send))
        }
        other => Err(Ack::err(
            ErrorCode::BadRequest,
            format!("unknown event `{}`", truncate(other, MAX_ECHO_BYTES)),
        )),
    }
}

/// A socket's `/calls` request waiting for its turn (one at a time per
/// socket, in its order: an offer before its ICE candidates).
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub ack: Option<AckHandle>,
    pub user_id: String,
    pub request: CallRequest,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared_types::calls::{CallMedia, SignalKind, MAX_SIGNAL_PAYLOAD_BYTES};

    use super::*;

    const CALL: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7d";
    const CONV: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";

    fn code(result: Result<CallRequest, Ack>) -> ErrorCode {
        result.unwrap_err().error.unwrap().code
    }

    fn parse(name: &str, payload: Value) -> Result<CallRequest, Ack> {
        parse_call_event(name, &[payload], "alice")
    }

    #[test]
    fn every_event_maps_to_its_internal_route() {
        let invite = parse(
            "call_invite",
            json!({"conversation_id": CONV, "type": "video"}),
        )
        .unwrap();
        assert_eq!(invite.path(), "/internal/v1/calls");
        assert_eq!(
            invite.body(),
            json!({"conversation_id": CONV, "type": "video"})
        );
        assert!(matches!(&invite, CallRequest::Invite(i) if i.media == CallMedia::Video));
        for (event, action) in [
            ("call_accept", "accept"),
            ("call_reject", "reject"),
            ("call_leave", "leave"),
            ("call_end", "end"),
        ] {
            let request = parse(event, json!({ "call_id": CALL })).unwrap();
            assert_eq!(
                request.path(),
                format!("/internal/v1/calls/{CALL}/{action}")
            );
            assert_eq!(request.body(), json!({}));
        }
        let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
        let signal = parse(
            "call_signal",
            json!({"call_id": CALL, "to_user_id": "bob", "kind": "offer", "payload": offer}),
        )
        .unwrap();
        assert_eq!(signal.path(), format!("/internal/v1/calls/{CALL}/signal"));
        assert_eq!(
            signal.body(),
            json!({"to_user_id": "bob", "kind": "offer", "payload": offer})
        );
        assert!(matches!(&signal, CallRequest::Signal(s) if s.signal.kind == SignalKind::Offer));
    }

    #[test]
    fn bad_input_gets_a_clear_ack_without_a_round_trip() {
        let bad = [
            (
                "call_invite",
                json!({"conversation_id": "x", "type": "voice"}),
            ),
            (
                "call_invite",
                json!({"conversation_id": CONV, "type": "fax"}),
            ),
            ("call_invite", json!({"conversation_id": CONV})),
            ("call_accept", json!({"call_id": 7})),
            ("call_end", json!({})),
            (
                "call_signal",
                json!({"call_id": CALL, "to_user_id": "bob", "kind": "bye", "payload": {}}),
            ),
            (
                "call_signal",
                json!({"call_id": CALL, "to_user_id": "alice", "kind": "ice", "payload": {}}),
            ),
            (
                "call_signal",
                json!({"call_id": CALL, "to_user_id": "", "kind": "ice", "payload": {}}),
            ),
            (
                "call_signal",
                json!({"call_id": CALL, "to_user_id": "bob", "kind": "ice"}),
            ),
        ];
        for (event, payload) in bad {
            assert_eq!(
                code(parse(event, payload.clone())),
                ErrorCode::ValidationError,
                "{event} {payload}"
            );
        }
        let huge = json!({
            "call_id": CALL, "to_user_id": "bob", "kind": "offer",
            "payload": {"sdp": "x".repeat(MAX_SIGNAL_PAYLOAD_BYTES)}
        });
        assert_eq!(code(parse("call_signal", huge)), ErrorCode::PayloadTooLarge);
        assert_eq!(
            code(parse_call_event("call_accept", &[json!("x")], "alice")),
            ErrorCode::ValidationError
        );
        assert_eq!(code(parse("call_ice", json!({}))), ErrorCode::BadRequest);
    }
}
