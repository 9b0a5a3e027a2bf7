//! `/messaging`, `/calls` and `/notifications` events.

use serde_json::json;
use shared_types::socket::{MessageRef, ReceiptKind};
use uuid::Uuid;

use super::*;
use crate::gateway::events::Receipt;
use crate::gateway::session::MAX_JOINED_CONVERSATIONS;

#[test]
fn join_asks_core_then_confirms() {
    let mut s = authed();
    let action = emit(
        &mut s,
        7,
        "join_conversation",
        json!({ "conversation_id": CONV }),
    );
    let Action::JoinConversation {
        ack,
        user_id,
        conversation_id,
    } = action
    else {
        panic!("{action:?}")
    };
    assert_eq!((user_id.as_str(), conversation_id), ("alice", conv()));
    assert!(s.joined.is_empty(), "a claim is not a join");
    let ack = ack.unwrap();
    assert_eq!(
        ack,
        AckHandle {
            nsp: "/messaging".into(),
            id: 7
        }
    );
    assert_eq!(
        s.on_join_confirmed(Some(&ack), conv()).unwrap(),
        [format!(
            r#"43/messaging,7[{{"ok":true,"data":{{"conversation_id":"{CONV}"}}}}]"#
        )]
    );
    assert!(s.joined.contains(&conv()));
    // joining again is idempotent and immediate
    assert_eq!(
        frames(emit(
            &mut s,
            8,
            "join_conversation",
            json!({ "conversation_id": CONV })
        ))
        .len(),
        1
    );
}

#[test]
fn a_join_core_did_not_confirm_leaves_the_socket_outside() {
    let mut s = authed();
    let join = emit(
        &mut s,
        2,
        "join_conversation",
        json!({ "conversation_id": CONV }),
    );
    assert!(matches!(join, Action::JoinConversation { .. }));
    // the glue got core's refusal and acked it; nothing confirmed the join
    assert!(s.joined.is_empty());
    let out = frames(emit(
        &mut s,
        3,
        "typing_start",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(ack_error_code(&out[0]), "FORBIDDEN");
    // the next attempt asks core again instead of trusting a cached answer
    assert!(matches!(
        emit(
            &mut s,
            4,
            "join_conversation",
            json!({ "conversation_id": CONV })
        ),
        Action::JoinConversation { .. }
    ));
}

#[test]
fn send_message_always_goes_to_core() {
    // core is the authority on membership: a socket that never joined the
    // conversation still asks core, which answers FORBIDDEN to a non-member
    let mut s = authed();
    let send = json!({ "conversation_id": CONV, "content": "hi", "client_msg_id": "c1" });
    assert!(matches!(
        emit(&mut s, 2, "send_message", send),
        Action::SendMessage { .. }
    ));
}

#[test]
fn send_message_carries_the_payload_and_ack() {
    let mut s = joined();
    let action = emit(
        &mut s,
        4,
        "send_message",
        json!({ "conversation_id": CONV, "content": "hi", "client_msg_id": "c1" }),
    );
    let Action::SendMessage {
        ack,
        user_id,
        payload,
    } = action
    else {
        panic!("{action:?}")
    };
    assert_eq!((ack.map(|a| a.id), user_id.as_str()), (Some(4), "alice"));
    assert_eq!(
        (payload.conversation_id, payload.content.as_deref()),
        (conv(), Some("hi"))
    );
    assert_eq!(payload.client_msg_id.as_deref(), Some("c1"));
}

#[test]
fn joined_set_is_capped() {
    let mut s = authed();
    for n in 0..MAX_JOINED_CONVERSATIONS as u128 {
        s.on_join_confirmed(None, Uuid::from_u128(n + 1));
    }
    let out = frames(emit(
        &mut s,
        1,
        "join_conversation",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(ack_error_code(&out[0]), "BAD_REQUEST");
}

#[test]
fn leave_updates_state_first() {
    let mut s = joined();
    let action = emit(
        &mut s,
        5,
        "leave_conversation",
        json!({ "conversation_id": CONV }),
    );
    let Action::LeaveConversation {
        conversation_id,
        reply,
    } = action
    else {
        panic!("{action:?}")
    };
    assert_eq!(conversation_id, conv());
    assert_eq!(
        reply,
        [format!(
            r#"43/messaging,5[{{"ok":true,"data":{{"conversation_id":"{CONV}"}}}}]"#
        )]
    );
    assert!(s.joined.is_empty());
    // leaving what was never joined just acks
    assert_eq!(
        frames(emit(
            &mut s,
            6,
            "leave_conversation",
            json!({ "conversation_id": CONV })
        ))
        .len(),
        1
    );
}

#[test]
fn typing_requires_a_joined_room() {
    let mut s = authed();
    let out = frames(emit(
        &mut s,
        1,
        "typing_start",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(ack_error_code(&out[0]), "FORBIDDEN");
    let mut s = joined();
    assert_eq!(
        emit(
            &mut s,
            2,
            "typing_start",
            json!({ "conversation_id": CONV })
        ),
        Action::Typing {
            ack: Some(AckHandle {
                nsp: "/messaging".into(),
                id: 2
            }),
            user_id: "alice".into(),
            conversation_id: conv(),
            typing: true,
        }
    );
    let no_ack = format!(
        "42/messaging,{}",
        json!(["typing_stop", { "conversation_id": CONV }])
    );
    assert_eq!(
        s.on_text_frame(&no_ack, NOW),
        Action::Typing {
            ack: None,
            user_id: "alice".into(),
            conversation_id: conv(),
            typing: false,
        }
    );
}

#[test]
fn a_repeated_typing_state_is_acked_but_not_relayed() {
    let mut s = joined();
    assert!(matches!(
        emit(
            &mut s,
            1,
            "typing_start",
            json!({ "conversation_id": CONV })
        ),
        Action::Typing { .. }
    ));
    let out = frames(emit(
        &mut s,
        2,
        "typing_start",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(out, [r#"43/messaging,2[{"ok":true}]"#]);
    assert!(matches!(
        emit(&mut s, 3, "typing_stop", json!({ "conversation_id": CONV })),
        Action::Typing { typing: false, .. }
    ));
}

#[test]
fn read_and_delivered_marks_go_to_core() {
    let mut s = authed();
    let payload = json!({ "conversation_id": CONV, "message_id": MSG });
    let message = MessageRef {
        conversation_id: conv(),
        message_id: Uuid::parse_str(MSG).unwrap(),
    };
    let ack = Some(AckHandle {
        nsp: "/messaging".into(),
        id: 1,
    });
    assert_eq!(
        emit(&mut s, 1, "message_read", payload.clone()),
        Action::MarkReceipt {
            ack: ack.clone(),
            user_id: "alice".into(),
            receipt: Receipt {
                kind: ReceiptKind::Read,
                message: message.clone()
            }
        }
    );
    assert_eq!(
        emit(&mut s, 1, "message_delivered", payload),
        Action::MarkReceipt {
            ack,
            user_id: "alice".into(),
            receipt: Receipt {
                kind: ReceiptKind::Delivered,
                message
            }
        }
    );
}

#[test]
fn receipts_name_core_s_route_by_their_kind() {
    let message = MessageRef {
        conversation_id: conv(),
        message_id: Uuid::parse_str(MSG).unwrap(),
    };
    for (kind, path) in [
        (ReceiptKind::Read, "/internal/v1/receipts/read"),
        (ReceiptKind::Delivered, "/internal/v1/receipts/delivered"),
    ] {
        let receipt = Receipt {
            kind,
            message: message.clone(),
        };
        assert_eq!(receipt.path(), path);
        // core reads `{kind}` with the same serde names
        let name = serde_json::to_value(kind).unwrap();
        assert!(path.ends_with(name.as_str().unwrap()), "{path}");
        assert_eq!(receipt.body().message_id, message.message_id);
        assert_eq!(receipt.body().conversation_id, conv());
    }
}

#[test]
fn invalid_and_unknown_events_get_immediate_ack_errors() {
    let mut s = authed();
    let out = frames(emit(
        &mut s,
        1,
        "send_message",
        json!({ "conversation_id": CONV, "content": "   ", "client_msg_id": "c1" }),
    ));
    assert_eq!(ack_error_code(&out[0]), "VALIDATION_ERROR");
    let out = frames(emit(
        &mut s,
        2,
        "join_conversation",
        json!({ "conversation_id": "nope" }),
    ));
    assert_eq!(ack_error_code(&out[0]), "VALIDATION_ERROR");
    let out = frames(emit(&mut s, 3, "self_destruct", json!({})));
    assert_eq!(ack_error_code(&out[0]), "BAD_REQUEST");
    assert_eq!(
        s.on_text_frame(r#"42/messaging,["self_destruct"]"#, NOW),
        Action::None
    );
}

#[test]
fn calls_go_to_core_checked_and_notifications_are_receive_only() {
    let mut s = authed();
    s.on_text_frame("40/calls,", NOW);
    s.on_text_frame("40/notifications,", NOW);
    let frame =
        format!(r#"42/calls,9["call_invite",{{"conversation_id":"{CONV}","type":"voice"}}]"#);
    let Action::Call {
        ack,
        user_id,
        request,
    } = s.on_text_frame(&frame, NOW)
    else {
        panic!("expected a call request");
    };
    assert_eq!(
        ack,
        Some(AckHandle {
            nsp: "/calls".into(),
            id: 9
        })
    );
    assert_eq!(user_id, "alice");
    assert_eq!(request.path(), "/internal/v1/calls");
    // checked at the edge: no round trip for bad input
    let bad = format!(r#"42/calls,1["call_invite",{{"conversation_id":"{CONV}","type":"fax"}}]"#);
    assert_eq!(
        ack_error_code(&frames(s.on_text_frame(&bad, NOW))[0]),
        "VALIDATION_ERROR"
    );
    let to_self = r#"42/calls,2["call_signal",{"call_id":"0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7d","to_user_id":"alice","kind":"ice","payload":{}}]"#;
    assert_eq!(
        ack_error_code(&frames(s.on_text_frame(to_self, NOW))[0]),
        "VALIDATION_ERROR"
    );
    let out = frames(s.on_text_frame(r#"42/calls,1["call_ice","x"]"#, NOW));
    assert_eq!(ack_error_code(&out[0]), "BAD_REQUEST");
    let out = frames(s.on_text_frame(r#"42/notifications,1["subscribe",{}]"#, NOW));
    assert_eq!(ack_error_code(&out[0]), "BAD_REQUEST");
}

#[test]
fn disconnecting_messaging_leaves_its_rooms() {
    let mut s = joined();
    assert_eq!(
        s.on_text_frame("41/messaging,", NOW),
        Action::LeaveConversations {
            conversation_ids: vec![conv()]
        }
    );
    assert!(s.joined.is_empty() && !s.namespaces.contains("/messaging"));
    assert_eq!(s.on_text_frame("41/messaging", NOW), Action::None);
    let out = frames(emit(
        &mut s,
        1,
        "typing_start",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(ack_error_code(&out[0]), "FORBIDDEN");
}

#[test]
fn eviction_forgets_the_join_so_the_next_join_asks_core() {
    let mut s = joined();
    let answer = |s: &mut SessionState| {
        let join = emit(
            s,
            9,
            "join_conversation",
            json!({ "conversation_id": CONV }),
        );
        matches!(join, Action::JoinConversation { .. })
    };
    assert!(!answer(&mut s), "a joined socket is answered at once");
    assert!(s.on_evicted(conv()));
    assert!(!s.joined.contains(&conv()));
    assert!(answer(&mut s), "after eviction a join asks core again");
    assert!(!s.on_evicted(conv()), "evicting twice is harmless");
}

#[test]
fn work_finishing_after_close_registers_nothing() {
    // the token was still being verified when the socket closed
    let mut s = SessionState::new("s", None, NOW);
    let cleanup = s.on_close();
    assert_eq!(cleanup.tms_user_id, None);
    let late = s.on_authenticated("/messaging", "alice");
    assert!(late.frames.is_empty() && !late.newly_authenticated);
    assert_eq!(s.tms_user_id, None);
    // a join whose Room registration was in flight when the socket closed
    let mut s = authed();
    s.on_close();
    assert_eq!(s.on_join_confirmed(None, conv()), None);
    assert!(s.joined.is_empty());
    // the flag survives hibernation
    let json = serde_json::to_string(&s).unwrap();
    assert!(serde_json::from_str::<SessionState>(&json).unwrap().closed);
}
