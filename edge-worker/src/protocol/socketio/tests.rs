use serde_json::json;
use shared_types::socket::{Ack, ConnectError};
use shared_types::ErrorCode;

use super::*;

fn ev(nsp: &str, ack_id: Option<u64>, name: &str, args: Vec<Value>) -> SioPacket {
    SioPacket::Event {
        nsp: nsp.into(),
        ack_id,
        name: name.into(),
        args,
    }
}

#[test]
fn decodes_the_spec_examples() {
    assert_eq!(
        decode("0"),
        Ok(SioPacket::Connect {
            nsp: "/".into(),
            data: None
        })
    );
    let with_sid = decode(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#).unwrap();
    let SioPacket::Connect {
        nsp,
        data: Some(data),
    } = with_sid
    else {
        panic!("{with_sid:?}")
    };
    assert_eq!(
        (nsp.as_str(), &data["sid"]),
        ("/admin", &json!("oSO0OpakMV_3jnilAAAA"))
    );
    assert_eq!(
        decode(r#"4{"message":"Not authorized"}"#),
        Ok(SioPacket::ConnectError {
            nsp: "/".into(),
            data: json!({"message": "Not authorized"})
        })
    );
    assert_eq!(decode(r#"2["foo"]"#), Ok(ev("/", None, "foo", vec![])));
    assert_eq!(
        decode(r#"2/admin,["bar"]"#),
        Ok(ev("/admin", None, "bar", vec![]))
    );
    assert_eq!(
        decode(r#"212["foo"]"#),
        Ok(ev("/", Some(12), "foo", vec![]))
    );
    assert_eq!(
        decode(r#"3/admin,13["bar"]"#),
        Ok(SioPacket::Ack {
            nsp: "/admin".into(),
            ack_id: 13,
            args: vec![json!("bar")]
        })
    );
    assert_eq!(decode("1"), Ok(SioPacket::Disconnect { nsp: "/".into() }));
    assert_eq!(
        decode("1/admin,"),
        Ok(SioPacket::Disconnect {
            nsp: "/admin".into()
        })
    );
    // from the sample session
    assert_eq!(
        decode("0/admin,"),
        Ok(SioPacket::Connect {
            nsp: "/admin".into(),
            data: None
        })
    );
    assert_eq!(
        decode(r#"2/admin,1["tellme"]"#),
        Ok(ev("/admin", Some(1), "tellme", vec![]))
    );
}

#[test]
fn encodes_the_spec_examples_exactly() {
    let cases = [
        (
            SioPacket::Connect {
                nsp: "/".into(),
                data: None,
            },
            "0",
        ),
        (SioPacket::Disconnect { nsp: "/".into() }, "1"),
        (
            SioPacket::Disconnect {
                nsp: "/admin".into(),
            },
            "1/admin,",
        ),
        (ev("/", None, "foo", vec![]), r#"2["foo"]"#),
        (ev("/admin", None, "bar", vec![]), r#"2/admin,["bar"]"#),
        (ev("/", Some(12), "foo", vec![]), r#"212["foo"]"#),
        (
            SioPacket::Ack {
                nsp: "/admin".into(),
                ack_id: 13,
                args: vec![json!("bar")],
            },
            r#"3/admin,13["bar"]"#,
        ),
        (
            SioPacket::Ack {
                nsp: "/".into(),
                ack_id: 12,
                args: vec![],
            },
            "312[]",
        ),
        (
            SioPacket::ConnectError {
                nsp: "/".into(),
                data: json!({"message": "Not authorized"}),
            },
            r#"4{"message":"Not authorized"}"#,
        ),
    ];
    for (packet, text) in cases {
        assert_eq!(encode(&packet), text);
        assert_eq!(decode(text).as_ref(), Ok(&packet), "{text}");
    }
    assert_eq!(frame(&ev("/", None, "foo", vec![])), r#"42["foo"]"#);
}

#[test]
fn round_trips_events_with_arguments() {
    let packets = [
        ev(
            "/messaging",
            Some(0),
            "send_message",
            vec![json!({"content": "héllo 🙂", "n": 1})],
        ),
        ev(
            "/calls",
            None,
            "call_ice",
            vec![json!(null), json!([1, 2]), json!("x")],
        ),
        SioPacket::Connect {
            nsp: "/messaging".into(),
            data: Some(Map::from_iter([("token".into(), json!("abc"))])),
        },
        SioPacket::Ack {
            nsp: "/notifications".into(),
            ack_id: MAX_ACK_ID,
            args: vec![json!({"ok": true})],
        },
    ];
    for p in packets {
        assert_eq!(decode(&encode(&p)), Ok(p));
    }
}

#[test]
fn namespace_without_trailing_comma_when_nothing_follows() {
    assert_eq!(
        decode("1/messaging"),
        Ok(SioPacket::Disconnect {
            nsp: "/messaging".into()
        })
    );
    assert_eq!(
        decode("0/messaging"),
        Ok(SioPacket::Connect {
            nsp: "/messaging".into(),
            data: None
        })
    );
}

#[test]
fn ack_id_with_namespace_and_arguments() {
    assert_eq!(
        decode(r#"2/messaging,42["join_conversation",{"conversation_id":"x"}]"#),
        Ok(ev(
            "/messaging",
            Some(42),
            "join_conversation",
            vec![json!({"conversation_id": "x"})]
        ))
    );
    // leading zeros parse like the reference decoder (Number("007") === 7)
    assert_eq!(decode(r#"2007["a"]"#), Ok(ev("/", Some(7), "a", vec![])));
}

#[test]
fn huge_ack_ids_are_rejected_not_wrapped() {
    assert_eq!(
        decode(r#"299999999999999999999999["a"]"#),
        Err(ProtocolError::AckIdOutOfRange)
    );
    assert_eq!(
        decode(&format!(r#"2{}["a"]"#, MAX_ACK_ID + 1)),
        Err(ProtocolError::AckIdOutOfRange)
    );
    assert_eq!(
        decode(&format!(r#"2{}["a"]"#, MAX_ACK_ID)),
        Ok(ev("/", Some(MAX_ACK_ID), "a", vec![]))
    );
    assert_eq!(
        decode(&format!("3/x,{}[]", "9".repeat(500))),
        Err(ProtocolError::AckIdOutOfRange)
    );
}

#[test]
fn binary_packets_are_refused() {
    for text in [
        r#"51-["baz",{"_placeholder":true,"num":0}]"#,
        r#"52-/admin,["baz"]"#,
        r#"61-15["bar"]"#,
        "5",
        "6",
    ] {
        assert_eq!(
            decode(text),
            Err(ProtocolError::BinaryAttachments),
            "{text}"
        );
    }
}

#[test]
fn payload_shapes_are_enforced() {
    let bad = [
        ("", ProtocolError::EmptySocketPacket),
        ("7", ProtocolError::UnknownSocketPacket('7')),
        ("x", ProtocolError::UnknownSocketPacket('x')),
        ("€", ProtocolError::UnknownSocketPacket('€')),
        ("0[]", invalid(Kind::Connect, "must be an object")),
        (r#"0"token""#, invalid(Kind::Connect, "must be an object")),
        ("1{}", invalid(Kind::Disconnect, "must be empty")),
        ("2", invalid(Kind::Event, "must be an array")),
        ("2/messaging,", invalid(Kind::Event, "must be an array")),
        ("2{}", invalid(Kind::Event, "must be an array")),
        (
            r#"2/messaging["a"]"#,
            invalid(Kind::Event, "must be an array"),
        ),
        ("2[]", invalid(Kind::Event, "must not be empty")),
        ("2[1]", invalid(Kind::Event, "event name must be a string")),
        (
            "2[null]",
            invalid(Kind::Event, "event name must be a string"),
        ),
        (
            r#"2[{"a":1}]"#,
            invalid(Kind::Event, "event name must be a string"),
        ),
        (
            r#"2["disconnect"]"#,
            invalid(Kind::Event, "reserved event name"),
        ),
        ("3[]", invalid(Kind::Ack, "missing ack id")),
        ("35", invalid(Kind::Ack, "must be an array")),
        ("35{}", invalid(Kind::Ack, "must be an array")),
        (
            "4",
            invalid(Kind::ConnectError, "must be an object or a string"),
        ),
        (
            "4[]",
            invalid(Kind::ConnectError, "must be an object or a string"),
        ),
        ("05{}", invalid(Kind::Connect, "unexpected ack id")),
        ("1/admin,5", invalid(Kind::Disconnect, "unexpected ack id")),
    ];
    for (text, expected) in bad {
        assert_eq!(decode(text), Err(expected), "{text:?}");
    }
}

#[test]
fn invalid_json_is_an_error() {
    for text in [
        "2[",
        r#"2["a""#,
        "2['a']",
        r#"2/messaging,["a"]x"#,
        "2[\"a\",]",
        "0/x,{",
    ] {
        assert!(
            matches!(decode(text), Err(ProtocolError::InvalidJson(_))),
            "{text:?}"
        );
    }
}

#[test]
fn connect_ok_advertises_pid_only_with_recovery() {
    assert_eq!(
        connect_ok("/messaging", "abc"),
        r#"40/messaging,{"sid":"abc"}"#
    );
    assert_eq!(connect_ok("/", "abc"), r#"40{"sid":"abc"}"#);
    assert_eq!(
        connect_ok_with_pid("/messaging", "abc", Some("gw.1.p")),
        r#"40/messaging,{"sid":"abc","pid":"gw.1.p"}"#
    );
}

#[test]
fn connect_error_carries_message_and_code() {
    let err = ConnectError::new(ErrorCode::TokenExpired, "token expired");
    assert_eq!(
        connect_error("/messaging", &err),
        r#"44/messaging,{"message":"token expired","data":{"code":"TOKEN_EXPIRED"}}"#
    );
}

#[test]
fn event_and_ack_helpers_are_exact() {
    assert_eq!(
        event("/messaging", "user_typing", &json!({"typing": true})),
        r#"42/messaging,["user_typing",{"typing":true}]"#
    );
    assert_eq!(
        ack("/messaging", 12, &Ack::ok(json!({"id": 1}))),
        r#"43/messaging,12[{"ok":true,"data":{"id":1}}]"#
    );
    assert_eq!(
        ack("/messaging", 12, &Ack::ok_empty()),
        r#"43/messaging,12[{"ok":true}]"#
    );
    assert_eq!(
        ack("/", 0, &Ack::err(ErrorCode::ValidationError, "bad")),
        r#"430[{"ok":false,"error":{"code":"VALIDATION_ERROR","message":"bad"}}]"#
    );
    assert_eq!(disconnect("/messaging"), "41/messaging,");
    assert_eq!(disconnect("/"), "41");
}

#[test]
fn helper_frames_decode_back() {
    let frames = [
        connect_ok("/messaging", "s"),
        connect_error("/calls", &ConnectError::new(ErrorCode::Forbidden, "no")),
        event("/notifications", "member_added", &json!({"user_id": "u"})),
        ack("/messaging", 3, &Ack::ok_empty()),
        disconnect("/messaging"),
    ];
    for f in frames {
        let Ok(crate::protocol::engineio::EioPacket::Message(text)) =
            crate::protocol::engineio::decode_text_frame(&f)
        else {
            panic!("{f} is not a message frame");
        };
        assert!(decode(text).is_ok(), "{f}");
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever arrives, the decoder answers Ok or Err: it never panics.
        #[test]
        fn any_text_decodes_or_fails_cleanly(text in ".{0,64}") {
            let _ = decode(&text);
            let _ = crate::protocol::engineio::decode_text_frame(&text);
        }

        /// Text built from packet-like pieces reaches the deeper parsing paths.
        #[test]
        fn packet_shaped_text_never_panics(
            kind in "[0-6]",
            nsp in prop_oneof![Just(String::new()), "/[a-z€🙂]{0,6},"],
            id in prop_oneof![Just(String::new()), "[0-9]{1,22}"],
            body in ".{0,24}",
        ) {
            let _ = decode(&format!("{kind}{nsp}{id}{body}"));
        }

        /// What the server encodes, a client (and this decoder) reads back unchanged.
        #[test]
        fn events_round_trip(
            nsp in prop_oneof![Just("/".to_string()), "/[a-z]{1,10}"],
            ack_id in proptest::option::of(0..=MAX_ACK_ID),
            name in "[a-z_]{1,16}",
            args in prop::collection::vec(json_value(), 0..3),
        ) {
            let packet = SioPacket::Event { nsp, ack_id, name, args };
            prop_assert_eq!(decode(&encode(&packet)).unwrap(), packet);
        }
    }
}

#[test]
fn a_raw_ok_ack_is_the_same_frame_as_a_value_ack() {
    let data = r#"{"id":"m-1","content":"h\u00e9 \"x\"","seq":3,"attachment":null}"#;
    let value: serde_json::Value = serde_json::from_str(data).unwrap();
    let expected = ack("/messaging", 7, &shared_types::socket::Ack::ok(value));
    // the raw frame keeps core's bytes; both decode to the same ACK
    let raw = ack_ok_raw("/messaging", 7, data);
    assert!(raw.starts_with("43/messaging,7[{\"ok\":true,\"data\":{"));
    let json = |frame: &str| -> serde_json::Value {
        serde_json::from_str(&frame["43/messaging,7".len()..]).unwrap()
    };
    assert_eq!(json(&raw), json(&expected));
}

#[test]
fn a_raw_event_is_the_same_frame_as_a_value_event() {
    let data = r#"{"id":"m-1","content":"h\u00e9 \"x\"","n":[1,2]}"#;
    let value: serde_json::Value = serde_json::from_str(data).unwrap();
    let raw = event_raw("/messaging", "new_message", data);
    assert!(
        raw.starts_with(r#"42/messaging,["new_message",{"id""#),
        "{raw}"
    );
    let parsed = |frame: &str| -> serde_json::Value {
        serde_json::from_str(&frame["42/messaging,".len()..]).unwrap()
    };
    assert_eq!(
        parsed(&raw),
        parsed(&event("/messaging", "new_message", &value))
    );
}

#[test]
fn cores_fanout_batch_reads_with_its_data_as_raw_json() {
    use shared_types::internal::{FanoutBatch, FanoutEvent, FanoutTarget};
    let sent = FanoutEvent {
        target: FanoutTarget::Conversation {
            conversation_id: uuid::Uuid::nil(),
            notify: Vec::new(),
        },
        namespace: "/messaging".into(),
        event: "new_message".into(),
        data: serde_json::json!({"id": "m-1", "seq": 4}),
        seq: Some(4),
        after_seq: None,
        evict_user_id: None,
        removal_epoch: None,
        close_sessions: false,
    };
    let text = serde_json::to_string(&FanoutBatch {
        events: vec![sent.clone()],
    })
    .unwrap();
    let read: FanoutBatch<Box<serde_json::value::RawValue>> = serde_json::from_str(&text).unwrap();
    let raw = &read.events[0];
    assert_eq!(raw.seq, Some(4));
    assert_eq!(
        event_raw(&raw.namespace, &raw.event, raw.data.get()),
        event("/messaging", "new_message", &sent.data)
    );
}

#[test]
fn an_event_moves_to_another_namespace_unchanged() {
    let data = serde_json::json!({"id": "m-1"});
    let frame = event("/messaging", "new_message", &data);
    assert_eq!(
        with_namespace(&frame, "/messaging", "/notifications"),
        Some(event("/notifications", "new_message", &data))
    );
    assert_eq!(with_namespace(&frame, "/calls", "/notifications"), None);
    assert_eq!(
        with_namespace("43/messaging,1[]", "/messaging", "/x"),
        None,
        "not an event"
    );
}
