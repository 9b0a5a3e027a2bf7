use super::*;
use crate::protocol::polling::decode_payload;

fn session() -> PollSession {
    PollSession::new(SessionState::new("local.0.abc", None, 1_000))
}

#[test]
fn the_handshake_offers_the_websocket_upgrade() {
    let frame = open_frame("local.0.abc", HeartbeatConfig::default());
    assert_eq!(
        frame,
        r#"0{"sid":"local.0.abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":65536}"#
    );
}

#[test]
fn a_get_takes_every_waiting_packet_at_once() {
    let mut s = session();
    assert!(s.push("2"));
    assert!(s.push("40/messaging,{}"));
    assert_eq!(
        s.on_get(),
        GetVerdict::Answer("2\u{1e}40/messaging,{}".into())
    );
    assert_eq!(s.buffered(), 0);
}

#[test]
fn an_empty_get_is_held_and_answered_by_the_next_packet() {
    let mut s = session();
    assert_eq!(s.on_get(), GetVerdict::Hold);
    assert!(!s.ready());
    assert_eq!(s.on_wake(false), None, "a wake with nothing keeps holding");
    assert!(s.push("42/messaging,[\"x\"]"));
    assert!(s.ready());
    assert_eq!(s.on_wake(false).as_deref(), Some("42/messaging,[\"x\"]"));
    // the next GET is a new hold, not an overlap
    assert_eq!(s.on_get(), GetVerdict::Hold);
}

#[test]
fn a_hold_that_ends_answers_a_noop() {
    let mut s = session();
    assert_eq!(s.on_get(), GetVerdict::Hold);
    assert_eq!(s.on_wake(true).as_deref(), Some("6"));
}

#[test]
fn a_second_concurrent_get_is_an_overlap() {
    let mut s = session();
    assert_eq!(s.on_get(), GetVerdict::Hold);
    assert_eq!(s.on_get(), GetVerdict::Overlap);
    // a GET dropped by its client frees the slot
    s.on_get_dropped();
    assert_eq!(s.on_get(), GetVerdict::Hold);
}

#[test]
fn a_second_concurrent_post_is_refused() {
    let mut s = session();
    assert_eq!(s.on_post_start(), Ok(()));
    assert!(s.on_post_start().is_err());
    s.on_post_end();
    assert_eq!(s.on_post_start(), Ok(()));
}

#[test]
fn closing_answers_the_held_get_with_what_waited_and_the_close_packet() {
    let mut s = session();
    assert_eq!(s.on_get(), GetVerdict::Hold);
    assert!(s.push("44/messaging,{}"));
    s.close();
    assert!(s.is_closed());
    assert_eq!(s.on_wake(false).as_deref(), Some("44/messaging,{}\u{1e}1"));
}

#[test]
fn the_buffer_is_capped_in_packets_and_bytes() {
    let mut s = session();
    for _ in 0..MAX_BUFFERED_PACKETS {
        assert!(s.push("2"));
    }
    assert!(!s.push("2"), "one packet over the cap");
    let mut s = session();
    let big = "4".repeat(MAX_BUFFERED_BYTES / 2);
    assert!(s.push(&big));
    assert!(s.push(&big));
    assert!(!s.push("4x"), "one byte over the cap");
}

#[test]
fn a_pong_in_a_post_is_the_liveness_signal() {
    let mut s = session();
    for packet in decode_payload("3").unwrap() {
        assert_eq!(s.on_packet(&packet, 5_000), Action::None);
    }
    assert_eq!(s.last_pong_at_ms, Some(5_000));
}

#[test]
fn posted_packets_run_the_websocket_dispatch() {
    let mut s = session();
    let packets = decode_payload("40/messaging,{\"token\":\"t\"}\u{1e}1").unwrap();
    assert_eq!(
        s.on_packet(&packets[0], 2_000),
        Action::Authenticate {
            nsp: "/messaging".into(),
            token: "t".into(),
            resume: None,
            no_recovery: false
        }
    );
    assert!(matches!(
        s.on_packet(&packets[1], 2_000),
        Action::Close { code: 1000, .. }
    ));
    // binary packets close the session, as binary frames close a WebSocket
    let binary = decode_payload("bAQID").unwrap();
    assert!(matches!(
        s.on_packet(&binary[0], 2_000),
        Action::Close { code: 1003, .. }
    ));
    // an upgrade packet over polling is a protocol error
    let upgrade = decode_payload("5").unwrap();
    assert!(matches!(
        s.on_packet(&upgrade[0], 2_000),
        Action::Close { code: 1002, .. }
    ));
}

#[test]
fn the_probe_answers_the_held_get_with_a_noop_and_5_moves_what_waits() {
    let mut s = session();
    assert!(s.may_probe());
    assert_eq!(s.on_get(), GetVerdict::Hold);
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Probed("3probe".into())
    );
    assert!(!s.may_probe(), "one probe at a time");
    assert!(
        s.ready(),
        "the held GET is released so the client can pause"
    );
    assert_eq!(s.on_wake(false).as_deref(), Some("6"));
    // packets sent meanwhile move to the WebSocket at `5`
    assert!(s.push("42/messaging,[\"late\"]"));
    assert_eq!(
        s.on_probe_frame("5", 3_100),
        ProbeStep::Upgraded(vec!["42/messaging,[\"late\"]".into()])
    );
    assert_eq!(s.buffered(), 0);
}

#[test]
fn while_probing_and_at_the_upgrade_a_get_gets_a_noop_at_once() {
    let mut s = session();
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Probed("3probe".into())
    );
    // a GET the client sent before it saw 3probe is never held
    assert_eq!(s.on_get(), GetVerdict::Answer("6".into()));
    assert_eq!(s.on_probe_frame("5", 3_100), ProbeStep::Upgraded(vec![]));
    assert!(s.ready(), "a GET still held at the upgrade gets its noop");
    assert_eq!(s.on_get(), GetVerdict::Answer("6".into()));
    assert_eq!(
        s.on_probe_frame("5", 3_200),
        ProbeStep::Refuse,
        "upgraded once"
    );
    s.on_probe_ended();
    assert!(!s.may_probe(), "an upgraded session is not probed again");
}

#[test]
fn anything_but_the_probe_sequence_refuses_the_websocket() {
    let mut s = session();
    assert_eq!(
        s.on_probe_frame("5", 3_000),
        ProbeStep::Refuse,
        "5 before the probe"
    );
    assert_eq!(s.on_probe_frame("2", 3_000), ProbeStep::Refuse);
    assert_eq!(s.on_probe_frame("40/messaging,", 3_000), ProbeStep::Refuse);
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Probed("3probe".into())
    );
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Refuse,
        "probed twice"
    );
    assert!(s.may_probe(), "polling goes on; a new WebSocket may try");
    s.close();
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Refuse,
        "closed"
    );
}

#[test]
fn a_probe_without_upgrade_times_out() {
    let mut s = session();
    assert!(!s.probe_timed_out(100_000));
    assert_eq!(
        s.on_probe_frame("2probe", 3_000),
        ProbeStep::Probed("3probe".into())
    );
    assert!(!s.probe_timed_out(3_000 + UPGRADE_TIMEOUT_MS - 1));
    assert!(s.probe_timed_out(3_000 + UPGRADE_TIMEOUT_MS));
    s.on_probe_ended();
    assert!(s.may_probe());
}
