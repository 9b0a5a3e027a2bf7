//! CONNECT, authentication and namespaces.

use shared_types::socket::ConnectError;
use shared_types::ErrorCode;

use super::*;
use crate::protocol::heartbeat::HeartbeatConfig;

#[test]
fn open_sends_the_handshake_and_arms_the_first_ping() {
    let (state, opened) =
        SessionState::open("sess-1", Some("qt".into()), HeartbeatConfig::default(), NOW);
    assert_eq!(
        opened.frame,
        r#"0{"sid":"sess-1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":65536}"#
    );
    assert_eq!(state.query_token.as_deref(), Some("qt"));
    assert!(!state.is_authenticated());
}

#[test]
fn connect_uses_auth_token_then_query_fallback() {
    let (mut s, _) = SessionState::open(
        "s",
        Some("from-query".into()),
        HeartbeatConfig::default(),
        NOW,
    );
    assert_eq!(
        s.on_text_frame(r#"40/messaging,{"token":"from-auth"}"#, NOW),
        Action::Authenticate {
            nsp: "/messaging".into(),
            token: "from-auth".into(),
            resume: None,
            no_recovery: false
        }
    );
    for frame in [
        "40/messaging,",
        "40/messaging",
        r#"40/messaging,{}"#,
        r#"40/messaging,{"token":""}"#,
    ] {
        assert_eq!(
            s.on_text_frame(frame, NOW),
            Action::Authenticate {
                nsp: "/messaging".into(),
                token: "from-query".into(),
                resume: None,
                no_recovery: false
            },
            "{frame}"
        );
    }
}

#[test]
fn connect_without_any_token_is_refused() {
    let mut s = opened();
    assert_eq!(
        frames(s.on_text_frame("40/messaging,", NOW)),
        [
            r#"44/messaging,{"message":"authentication required: connect with auth {token}","data":{"code":"TOKEN_MISSING"}}"#
        ]
    );
    let malformed = frames(s.on_text_frame(r#"40/messaging,{"token":42}"#, NOW));
    assert!(malformed[0].contains("TOKEN_MALFORMED"));
    assert!(s.namespaces.is_empty());
}

#[test]
fn unknown_namespaces_get_invalid_namespace() {
    let mut s = opened();
    assert_eq!(
        frames(s.on_text_frame("40/admin,", NOW)),
        [r#"44/admin,{"message":"Invalid namespace","data":{"code":"NOT_FOUND"}}"#]
    );
    assert_eq!(
        frames(s.on_text_frame("40", NOW)),
        [r#"44{"message":"Invalid namespace","data":{"code":"NOT_FOUND"}}"#]
    );
}

#[test]
fn successful_auth_connects_and_forgets_the_query_token() {
    let (mut s, _) =
        SessionState::open("sess-1", Some("qt".into()), HeartbeatConfig::default(), NOW);
    let out = s.on_authenticated("/messaging", "alice");
    assert_eq!(out.frames, [r#"40/messaging,{"sid":"sess-1#messaging"}"#]);
    assert!(out.newly_authenticated);
    assert_eq!(s.tms_user_id.as_deref(), Some("alice"));
    assert_eq!(s.query_token, None);
    assert_eq!(s.connect_deadline_ms, None);
    assert!(s.namespaces.contains("/messaging"));
}

#[test]
fn further_namespaces_reuse_the_identity_or_must_match_it() {
    let mut s = authed();
    assert_eq!(
        frames(s.on_text_frame("40/notifications,", NOW)),
        [r#"40/notifications,{"sid":"sess-1#notifications"}"#]
    );
    assert!(s.namespaces.contains("/notifications"));
    assert!(matches!(
        s.on_text_frame(r#"40/calls,{"token":"t2"}"#, NOW),
        Action::Authenticate { .. }
    ));
    let other = s.on_authenticated("/calls", "mallory");
    assert!(!other.newly_authenticated);
    assert!(other.frames[0].starts_with("44/calls,") && other.frames[0].contains("FORBIDDEN"));
    assert!(!s.namespaces.contains("/calls"));
    let same = s.on_authenticated("/calls", "alice");
    assert!(!same.newly_authenticated);
    assert_eq!(same.frames, [r#"40/calls,{"sid":"sess-1#calls"}"#]);
}

#[test]
fn auth_callbacks_validate_their_inputs() {
    let mut s = opened();
    assert!(s.on_authenticated("/nope", "alice").frames[0].contains("Invalid namespace"));
    assert!(s.on_authenticated("/messaging", "").frames[0].contains("TOKEN_SUBJECT_MISSING"));
    assert!(
        s.on_authenticated("/messaging", &"x".repeat(129)).frames[0].contains("TOKEN_MALFORMED")
    );
    assert!(!s.is_authenticated());
    let failed = s.on_auth_failed(
        "/messaging",
        &ConnectError::new(ErrorCode::TokenExpired, "token expired"),
    );
    assert_eq!(
        failed,
        r#"44/messaging,{"message":"token expired","data":{"code":"TOKEN_EXPIRED"}}"#
    );
}

#[test]
fn events_before_auth_get_an_ack_error_or_nothing() {
    let mut s = opened();
    let out = frames(emit(
        &mut s,
        1,
        "join_conversation",
        json!({ "conversation_id": CONV }),
    ));
    assert_eq!(ack_error_code(&out[0]), "TOKEN_MISSING");
    assert!(out[0].starts_with("43/messaging,1["));
    assert_eq!(
        s.on_text_frame(r#"42/messaging,["typing_start",{}]"#, NOW),
        Action::None
    );
}

#[test]
fn events_on_a_namespace_not_connected_are_refused() {
    let mut s = authed();
    let out = frames(s.on_text_frame(r#"42/calls,3["call_invite",{}]"#, NOW));
    assert_eq!(
        out[0],
        r#"43/calls,3[{"ok":false,"error":{"code":"FORBIDDEN","message":"not connected to this namespace"}}]"#
    );
    assert_eq!(s.on_text_frame(r#"42["x"]"#, NOW), Action::None);
}

#[test]
fn a_connect_carrying_pid_and_offset_asks_for_recovery() {
    let mut s = opened();
    assert_eq!(
        s.on_text_frame(
            r#"40/messaging,{"pid":"gw.1.p","offset":"i-4","token":"jwt"}"#,
            NOW
        ),
        Action::Authenticate {
            nsp: "/messaging".into(),
            token: "jwt".into(),
            resume: Some(ResumeAsk {
                pid: "gw.1.p".into(),
                offset: Some("i-4".into())
            }),
            no_recovery: false
        }
    );
    // no offset (no event received yet), odd types ignored, recovery declined
    assert_eq!(
        s.on_text_frame(
            r#"40/calls,{"pid":"gw.1.p","offset":7,"token":"jwt","recovery":false}"#,
            NOW
        ),
        Action::Authenticate {
            nsp: "/calls".into(),
            token: "jwt".into(),
            resume: Some(ResumeAsk {
                pid: "gw.1.p".into(),
                offset: None
            }),
            no_recovery: true
        }
    );
}
