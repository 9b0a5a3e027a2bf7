//! Engine.IO v4 heartbeat, server-driven and per gateway: one alarm every
//! `ping_interval_ms` sends `2` to every socket of the gateway. The client's
//! pong `3` is answered by the runtime's WebSocket auto-response (`6`, a
//! noop) and never wakes the object; the alarm reads liveness from the
//! auto-response timestamp. As Engine.IO specifies, a socket is dead once it
//! has been silent for `ping_interval_ms + ping_timeout_ms`: its last pong
//! (or its opening) is that old. That rule needs no memory of past rounds, so
//! it holds across hibernation and eviction; to close on time the next alarm
//! is set to the earliest such moment when it comes before the next round.
//! Pure over an injected clock.

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const DEFAULT_PING_INTERVAL_MS: u64 = 25_000;
pub const DEFAULT_PING_TIMEOUT_MS: u64 = 20_000;
/// Bounds for configured values: below 1 s pings become a DoS on ourselves,
/// above 10 min intermediaries drop idle sockets anyway.
pub const MIN_HEARTBEAT_MS: u64 = 1_000;
pub const MAX_HEARTBEAT_MS: u64 = 600_000;

/// Heartbeat timings, advertised to the client in the Engine.IO open packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatConfig {
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            ping_interval_ms: DEFAULT_PING_INTERVAL_MS,
            ping_timeout_ms: DEFAULT_PING_TIMEOUT_MS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} must be between {MIN_HEARTBEAT_MS} and {MAX_HEARTBEAT_MS} ms, got {value}")]
pub struct InvalidHeartbeatConfig {
    pub field: &'static str,
    pub value: u64,
}

impl HeartbeatConfig {
    /// Validated constructor for values read from the environment.
    pub fn new(
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
    ) -> Result<Self, InvalidHeartbeatConfig> {
        for (field, value) in [
            ("ping_interval_ms", ping_interval_ms),
            ("ping_timeout_ms", ping_timeout_ms),
        ] {
            if !(MIN_HEARTBEAT_MS..=MAX_HEARTBEAT_MS).contains(&value) {
                return Err(InvalidHeartbeatConfig { field, value });
            }
        }
        Ok(Self {
            ping_interval_ms,
            ping_timeout_ms,
        })
    }
}

/// When this gateway last sent a round of pings, in memory: it only paces
/// the rounds. A gateway evicted from memory forgets it and pings at its
/// next alarm, which is harmless; liveness never depends on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingRounds {
    last_round_at: Option<u64>,
}

/// What one socket's check at an alarm decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketCheck {
    /// Alive: ping it if a round is due.
    Ping,
    /// No namespace connected before its deadline.
    ConnectTimeout,
    /// Silent for `ping_interval_ms + ping_timeout_ms`.
    PingTimeout,
    /// Its token expired and no fresh one came within the refresh grace.
    TokenExpired,
}

/// What the heartbeat knows of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLiveness {
    pub opened_at_ms: u64,
    /// The runtime's auto-response timestamp: the last pong it answered.
    pub last_pong_at_ms: Option<u64>,
    /// Set until the socket connects its first namespace.
    pub connect_deadline_ms: Option<u64>,
    /// The token's expiry plus the refresh grace, once authenticated.
    pub token_deadline_ms: Option<u64>,
}

impl SocketLiveness {
    /// When the socket is dead unless it pongs before: its last sign of life
    /// plus `ping_interval_ms + ping_timeout_ms`.
    pub fn silent_deadline(&self, config: HeartbeatConfig) -> u64 {
        let alive_at = self
            .last_pong_at_ms
            .map_or(self.opened_at_ms, |pong| pong.max(self.opened_at_ms));
        alive_at
            .saturating_add(config.ping_interval_ms)
            .saturating_add(config.ping_timeout_ms)
    }
}

/// One alarm's pass over the gateway's sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmPass {
    config: HeartbeatConfig,
    now_ms: u64,
    /// Whether live sockets get a ping in this pass.
    pub round_due: bool,
    /// The first moment a socket judged alive turns dead.
    pub earliest_deadline: Option<u64>,
}

impl AlarmPass {
    /// Judges one socket, and remembers when a live one would turn dead.
    pub fn judge(&mut self, rounds: &PingRounds, socket: SocketLiveness) -> SocketCheck {
        let check = rounds.check(self.config, socket, self.now_ms);
        if check == SocketCheck::Ping {
            // the alarm must also come by its connect and token deadlines
            let deadline = [socket.connect_deadline_ms, socket.token_deadline_ms]
                .into_iter()
                .flatten()
                .fold(socket.silent_deadline(self.config), u64::min);
            self.earliest_deadline =
                Some(self.earliest_deadline.map_or(deadline, |d| d.min(deadline)));
        }
        check
    }
}

/// A round that comes this early is sent now, rather than waking again for it.
const ROUND_SLACK_MS: u64 = 20;

impl PingRounds {
    /// Judges one socket at `now_ms`.
    pub fn check(
        &self,
        config: HeartbeatConfig,
        socket: SocketLiveness,
        now_ms: u64,
    ) -> SocketCheck {
        if socket
            .connect_deadline_ms
            .is_some_and(|deadline| now_ms >= deadline)
        {
            return SocketCheck::ConnectTimeout;
        }
        if socket
            .token_deadline_ms
            .is_some_and(|deadline| now_ms >= deadline)
        {
            return SocketCheck::TokenExpired;
        }
        if now_ms >= socket.silent_deadline(config) {
            SocketCheck::PingTimeout
        } else {
            SocketCheck::Ping
        }
    }

    /// Starts an alarm's pass at `now_ms`.
    pub fn pass(&self, config: HeartbeatConfig, now_ms: u64) -> AlarmPass {
        AlarmPass {
            config,
            now_ms,
            round_due: self.round_due(config, now_ms),
            earliest_deadline: None,
        }
    }

    /// Whether this alarm sends a round of pings (always after a wake that
    /// forgot the last round).
    pub fn round_due(&self, config: HeartbeatConfig, now_ms: u64) -> bool {
        self.last_round_at.is_none_or(|last| {
            now_ms.saturating_add(ROUND_SLACK_MS) >= last.saturating_add(config.ping_interval_ms)
        })
    }

    /// Records that a round of pings went out at `now_ms`.
    pub fn sent(&mut self, now_ms: u64) {
        self.last_round_at = Some(now_ms);
    }

    /// By when the alarm must come for a socket opened at `now_ms`: its first
    /// round of pings (or its connect deadline, if sooner). An alarm armed
    /// later, e.g. one that only keeps the object awake, does not do: the
    /// socket's silence is counted from its opening, so a late first ping
    /// would leave it less than `ping_timeout_ms` to answer.
    pub fn new_socket_alarm_by(
        &self,
        config: HeartbeatConfig,
        now_ms: u64,
        connect_deadline_ms: u64,
    ) -> u64 {
        self.next_alarm_at(config, now_ms, None)
            .min(connect_deadline_ms)
    }

    /// When the next alarm is due: the next round, or earlier the first
    /// moment a remaining socket turns dead (`earliest_deadline`), so it is
    /// closed on time. Never at or before `now_ms`.
    pub fn next_alarm_at(
        &self,
        config: HeartbeatConfig,
        now_ms: u64,
        earliest_deadline: Option<u64>,
    ) -> u64 {
        let next_round = self
            .last_round_at
            .unwrap_or(now_ms)
            .saturating_add(config.ping_interval_ms);
        earliest_deadline
            .map_or(next_round, |d| d.min(next_round))
            .max(now_ms.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HeartbeatConfig {
        HeartbeatConfig::new(25_000, 20_000).unwrap()
    }

    fn socket(opened_at_ms: u64, last_pong_at_ms: Option<u64>) -> SocketLiveness {
        SocketLiveness {
            opened_at_ms,
            last_pong_at_ms,
            connect_deadline_ms: None,
            token_deadline_ms: None,
        }
    }

    #[test]
    fn a_socket_past_its_token_deadline_is_closed() {
        let rounds = PingRounds::default();
        let mut s = socket(0, None);
        s.token_deadline_ms = Some(10_000);
        assert_eq!(rounds.check(cfg(), s, 9_999), SocketCheck::Ping);
        assert_eq!(rounds.check(cfg(), s, 10_000), SocketCheck::TokenExpired);
        // and the alarm is set to come by it
        let mut pass = rounds.pass(cfg(), 0);
        assert_eq!(pass.judge(&rounds, s), SocketCheck::Ping);
        assert_eq!(pass.earliest_deadline, Some(10_000));
    }

    #[test]
    fn a_new_socket_needs_the_alarm_by_its_first_round_not_by_a_later_one() {
        let config = HeartbeatConfig::new(2_000, 2_000).unwrap();
        let mut rounds = PingRounds::default();
        // no round yet: the first one comes an interval after the opening
        assert_eq!(rounds.new_socket_alarm_by(config, 1_000, 11_000), 3_000);
        // with rounds going, the next one; the connect deadline if sooner
        rounds.sent(2_500);
        assert_eq!(rounds.new_socket_alarm_by(config, 3_000, 13_000), 4_500);
        assert_eq!(rounds.new_socket_alarm_by(config, 3_000, 4_000), 4_000);
        // so a keep-awake alarm armed 8 s away (parked sessions) is moved
        // forward: the socket is pinged with its full timeout left
        assert!(rounds.new_socket_alarm_by(config, 3_000, 13_000) < 3_000 + 8_000);
    }

    #[test]
    fn defaults_match_engine_io() {
        let c = HeartbeatConfig::default();
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms), (25_000, 20_000));
    }

    #[test]
    fn config_is_validated() {
        assert!(HeartbeatConfig::new(999, 20_000).is_err());
        assert!(HeartbeatConfig::new(25_000, 600_001).is_err());
        let e = HeartbeatConfig::new(25_000, 0).unwrap_err();
        assert_eq!(e.field, "ping_timeout_ms");
    }

    #[test]
    fn a_socket_is_dead_after_interval_plus_timeout_of_silence() {
        let rounds = PingRounds::default();
        // last pong at 10 s: dead from 10 + 25 + 20 = 55 s on, not a ms before
        let s = socket(0, Some(10_000));
        assert_eq!(s.silent_deadline(cfg()), 55_000);
        assert_eq!(rounds.check(cfg(), s, 54_999), SocketCheck::Ping);
        assert_eq!(rounds.check(cfg(), s, 55_000), SocketCheck::PingTimeout);
        // never ponged: counted from its opening
        let fresh = socket(5_000, None);
        assert_eq!(rounds.check(cfg(), fresh, 49_999), SocketCheck::Ping);
        assert_eq!(rounds.check(cfg(), fresh, 50_000), SocketCheck::PingTimeout);
        // a pong stamped before the opening (a reused timestamp) does not count
        assert_eq!(socket(30_000, Some(1_000)).silent_deadline(cfg()), 75_000);
    }

    #[test]
    fn a_gateway_that_woke_without_memory_judges_the_same() {
        // no round remembered: the same verdicts, and a round is due at once
        let rounds = PingRounds::default();
        assert!(rounds.round_due(cfg(), 1_000_000));
        assert_eq!(
            rounds.check(cfg(), socket(0, Some(960_000)), 1_000_000),
            SocketCheck::Ping
        );
        assert_eq!(
            rounds.check(cfg(), socket(0, Some(955_000)), 1_000_000),
            SocketCheck::PingTimeout
        );
    }

    #[test]
    fn rounds_are_paced_by_the_interval() {
        let mut rounds = PingRounds::default();
        rounds.sent(25_000);
        assert!(
            !rounds.round_due(cfg(), 45_000),
            "a deadline alarm only checks"
        );
        assert!(rounds.round_due(cfg(), 50_000 - ROUND_SLACK_MS));
        assert!(rounds.round_due(cfg(), 50_000));
    }

    #[test]
    fn the_next_alarm_is_the_next_round_or_an_earlier_death() {
        let mut rounds = PingRounds::default();
        rounds.sent(25_000);
        assert_eq!(rounds.next_alarm_at(cfg(), 25_000, None), 50_000);
        assert_eq!(rounds.next_alarm_at(cfg(), 25_000, Some(45_000)), 45_000);
        assert_eq!(rounds.next_alarm_at(cfg(), 25_000, Some(70_000)), 50_000);
        // never in the past
        assert_eq!(rounds.next_alarm_at(cfg(), 46_000, Some(45_000)), 46_001);
        assert_eq!(
            PingRounds::default().next_alarm_at(cfg(), u64::MAX, None),
            u64::MAX
        );
    }

    #[test]
    fn timings_as_specified_with_short_settings() {
        // interval 2 s, timeout 1 s: pings at 0, 2, 4 s; the client answers
        // the 2 s ping (at 2.03 s) and then falls silent
        let config = HeartbeatConfig::new(2_000, 1_000).unwrap();
        let mut rounds = PingRounds::default();
        rounds.sent(2_000);
        let s = socket(0, Some(2_030));
        // the next alarm: the next round (4 s) comes before its death (5.03 s)
        assert_eq!(
            rounds.next_alarm_at(config, 2_000, Some(s.silent_deadline(config))),
            4_000
        );
        assert_eq!(rounds.check(config, s, 4_000), SocketCheck::Ping);
        rounds.sent(4_000);
        // it does not answer the 4 s ping: the alarm comes at its death, 5.03 s,
        // i.e. the 4 s ping's timeout (+ its round trip), not at the 6 s round
        let wake = rounds.next_alarm_at(config, 4_000, Some(s.silent_deadline(config)));
        assert_eq!(wake, 5_030);
        assert!(!rounds.round_due(config, wake));
        assert_eq!(rounds.check(config, s, wake), SocketCheck::PingTimeout);
    }

    #[test]
    fn a_pass_pings_when_due_and_remembers_the_first_death() {
        let mut rounds = PingRounds::default();
        rounds.sent(0);
        let mut pass = rounds.pass(cfg(), 25_000);
        assert!(pass.round_due);
        assert_eq!(
            pass.judge(&rounds, socket(0, Some(10_000))),
            SocketCheck::Ping
        );
        assert_eq!(
            pass.judge(&rounds, socket(0, Some(2_000))),
            SocketCheck::Ping
        );
        assert_eq!(pass.judge(&rounds, socket(0, None)), SocketCheck::Ping);
        assert_eq!(pass.earliest_deadline, Some(45_000));
        rounds.sent(25_000);
        let mut later = rounds.pass(cfg(), 47_000);
        assert!(!later.round_due);
        assert_eq!(
            later.judge(&rounds, socket(0, Some(2_000))),
            SocketCheck::PingTimeout
        );
        assert_eq!(later.earliest_deadline, None, "the dead do not count");
    }

    #[test]
    fn connect_deadline_closes_a_socket_that_never_connected() {
        let rounds = PingRounds::default();
        let mut s = socket(0, None);
        s.connect_deadline_ms = Some(30_000);
        assert_eq!(rounds.check(cfg(), s, 29_000), SocketCheck::Ping);
        assert_eq!(rounds.check(cfg(), s, 30_000), SocketCheck::ConnectTimeout);
    }
}
