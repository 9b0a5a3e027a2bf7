//! Engine.IO control packets, heartbeat, rate guard, violations, close, hibernation.

use serde_json::json;

use super::*;
use crate::gateway::session::DEFAULT_CONNECT_TIMEOUT_MS;

#[test]
fn flood_is_rate_limited_locally() {
    let mut s = joined();
    // alternating states: each is a change, so none is coalesced
    let typing = |id: u64| {
        let name = if id.is_multiple_of(2) {
            "typing_start"
        } else {
            "typing_stop"
        };
        format!(
            "42/messaging,{id}{}",
            json!([name, { "conversation_id": CONV }])
        )
    };
    let t = NOW + 10_000; // the burst is full again
    for id in 0..10 {
        assert!(
            matches!(s.on_text_frame(&typing(id), t), Action::Typing { .. }),
            "message {id}"
        );
    }
    let out = frames(s.on_text_frame(&typing(10), t));
    assert_eq!(
        out,
        [
            r#"43/messaging,10[{"ok":false,"error":{"code":"RATE_LIMITED","message":"too many messages: retry after 100 ms","details":{"retry_after_ms":100}}}]"#
        ]
    );
    let no_ack = format!(
        "42/messaging,{}",
        json!(["typing_start", { "conversation_id": CONV }])
    );
    assert_eq!(s.on_text_frame(&no_ack, t), Action::None);
    assert!(frames(s.on_text_frame("40/calls,", t))[0].contains("RATE_LIMITED"));
    assert!(matches!(
        s.on_text_frame(&typing(12), t + 100),
        Action::Typing { .. }
    ));
}

#[test]
fn engine_io_control_packets() {
    let mut s = opened();
    assert_eq!(s.on_text_frame("2", NOW), Action::Reply(vec!["3".into()]));
    assert_eq!(
        s.on_text_frame("2probe", NOW),
        Action::Reply(vec!["3probe".into()])
    );
    assert_eq!(s.on_text_frame("6", NOW), Action::None);
    assert_eq!(
        s.on_text_frame("1", NOW),
        Action::Close {
            code: 1000,
            reason: "client closed",
            error: None
        }
    );
    assert!(matches!(
        s.on_text_frame(
            r#"0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}"#,
            NOW
        ),
        Action::Close { code: 1002, .. }
    ));
    assert!(matches!(
        s.on_text_frame("5", NOW),
        Action::Close { code: 1002, .. }
    ));
}

#[test]
fn pongs_and_noops_that_reach_rust_count_against_the_guard() {
    // the runtime answers a bare `3` itself; anything that still arrives is
    // ignored, but costs rate like any frame
    let mut s = authed();
    for frame in ["3", "3probe", "6", "6", "6", "6", "6", "6", "6", "6"] {
        assert_eq!(s.on_text_frame(frame, NOW), Action::None);
    }
    let join = r#"42/messaging,1["join_conversation",{"conversation_id":"00000000-0000-0000-0000-000000000001"}]"#;
    match s.on_text_frame(join, NOW) {
        Action::Reply(frames) => assert!(frames[0].contains("RATE_LIMITED"), "{frames:?}"),
        other => panic!("expected a rate-limited ack, got {other:?}"),
    }
    // and the guard refills
    assert!(!matches!(
        s.on_text_frame(join, NOW + 1_000),
        Action::Reply(ref f) if f[0].contains("RATE_LIMITED")
    ));
}

#[test]
fn a_socket_that_never_connects_a_namespace_has_a_deadline() {
    use crate::protocol::heartbeat::{HeartbeatConfig, PingRounds, SocketCheck};
    let rounds = PingRounds::default();
    let s = opened();
    // a socket that ponged a moment ago: only the connect deadline can close it
    let check = |s: &SessionState, at: u64| {
        rounds.check(
            HeartbeatConfig::default(),
            s.liveness(Some(at - 1_000), 60_000),
            at,
        )
    };
    assert_eq!(
        check(&s, NOW + DEFAULT_CONNECT_TIMEOUT_MS - 1),
        SocketCheck::Ping
    );
    assert_eq!(DEFAULT_CONNECT_TIMEOUT_MS, 10_000, "closed within 10 s");
    assert_eq!(
        check(&s, NOW + DEFAULT_CONNECT_TIMEOUT_MS),
        SocketCheck::ConnectTimeout
    );
    // an authenticated socket has no connect deadline
    let a = authed();
    assert_eq!(
        check(&a, NOW + DEFAULT_CONNECT_TIMEOUT_MS),
        SocketCheck::Ping
    );
}

#[test]
fn protocol_violations_close_with_a_reason() {
    let mut s = authed();
    let cases: [(&str, u16); 8] = [
        ("", 1002),
        ("9", 1002),
        ("4", 1002),
        ("49", 1002),
        (r#"42/messaging,["a""#, 1002),
        (r#"42/messaging,[7]"#, 1002),
        (
            r#"451-/messaging,["a",{"_placeholder":true,"num":0}]"#,
            1003,
        ),
        (r#"42/messaging,99999999999999999999["a"]"#, 1002),
    ];
    for (frame, code) in cases {
        let action = s.on_text_frame(frame, NOW);
        assert!(
            matches!(action, Action::Close { code: c, error: Some(_), .. } if c == code),
            "{frame:?} → {action:?}"
        );
    }
    assert!(matches!(
        s.on_binary_frame(4),
        Action::Close {
            code: 1003,
            reason: "binary frames are not supported",
            ..
        }
    ));
    let big = format!(
        "42/messaging,[\"{}\"]",
        "a".repeat(shared_types::limits::MAX_WS_FRAME_BYTES)
    );
    assert!(matches!(
        s.on_text_frame(&big, NOW),
        Action::Close { code: 1009, .. }
    ));
}

#[test]
fn close_returns_what_to_unregister() {
    let mut s = joined();
    assert_eq!(
        s.on_close(),
        Cleanup {
            tms_user_id: Some("alice".into()),
            conversation_ids: vec![conv()]
        }
    );
    assert_eq!(s.on_close(), Cleanup::default());
    assert!(s.namespaces.is_empty());
}

#[test]
fn state_survives_hibernation_mid_flow() {
    let s = joined();
    let attachment = serde_json::to_string(&s).unwrap();
    let mut woken: SessionState = serde_json::from_str(&attachment).unwrap();
    assert_eq!(woken, s);
    assert!(matches!(
        emit(
            &mut woken,
            1,
            "typing_start",
            json!({ "conversation_id": CONV })
        ),
        Action::Typing { .. }
    ));
}

#[test]
fn garbage_frames_never_panic() {
    let pieces = [
        "",
        "4",
        "2",
        "0",
        "/messaging",
        ",",
        "/",
        "12",
        "99999999999999999999",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "€",
        "🙂",
        "null",
        "[\"send_message\"",
        ",{}",
        "\u{0}",
        "-",
        "1-",
    ];
    let mut s = authed();
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let frame = format!("{a}{b}{c}");
                // keep the rate guard out of the way so dispatch sees every frame
                s.rate = Default::default();
                let _ = s.on_text_frame(&frame, NOW);
                let _ = s.on_text_frame(&format!("4{frame}"), NOW);
                let _ = s.on_text_frame(&format!("42/messaging,{frame}"), NOW);
            }
        }
    }
}
