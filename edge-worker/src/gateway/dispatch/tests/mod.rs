//! Per-socket dispatch, end to end over frames: connect/auth, events, transport.

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::protocol::heartbeat::HeartbeatConfig;

mod connect;
mod events;
mod transport;

const NOW: u64 = 1_000_000;
const CONV: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7b";
const MSG: &str = "0192f1c4-5d6e-7f80-9a1b-2c3d4e5f6a7c";

fn conv() -> Uuid {
    Uuid::parse_str(CONV).unwrap()
}

fn opened() -> SessionState {
    SessionState::open("sess-1", None, HeartbeatConfig::default(), NOW).0
}

/// A socket authenticated as alice and connected to `/messaging`.
fn authed() -> SessionState {
    let mut s = opened();
    assert_eq!(
        s.on_text_frame(r#"40/messaging,{"token":"jwt"}"#, NOW),
        Action::Authenticate {
            nsp: "/messaging".into(),
            token: "jwt".into(),
            resume: None,
            no_recovery: false
        }
    );
    s.on_authenticated("/messaging", "alice");
    s
}

/// `authed()` with `CONV` joined.
fn joined() -> SessionState {
    let mut s = authed();
    s.on_join_confirmed(None, conv());
    s
}

fn frames(action: Action) -> Vec<String> {
    match action {
        Action::Reply(frames) => frames,
        other => panic!("expected Reply, got {other:?}"),
    }
}

fn emit(s: &mut SessionState, ack_id: u64, name: &str, payload: serde_json::Value) -> Action {
    let frame = format!("42/messaging,{ack_id}{}", json!([name, payload]));
    s.on_text_frame(&frame, NOW)
}

fn ack_error_code(frame: &str) -> String {
    let start = frame.find('[').unwrap();
    let args: serde_json::Value = serde_json::from_str(&frame[start..]).unwrap();
    args[0]["error"]["code"].as_str().unwrap().to_owned()
}
