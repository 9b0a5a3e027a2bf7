//! Engine.IO v4 heartbeat, server-driven and per gateway: one alarm every
//! `ping_interval_ms` sends `2` to every socket of the gateway. The client's
//! pong `3` is answered by the runtime's WebSocket auto-response (`6`, a
//! noop) and never wakes the object; the next round reads liveness from the
//! auto-response timestamp. A socket that has not ponged a ping sent at least
//! `ping_timeout_ms` ago is dead. Pure over an injected clock.

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

/// The last ping rounds of one gateway, in memory. A gateway that was
/// evicted from memory forgets them: its first round after waking pings
/// everyone and closes nobody, which only delays detection by one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingRounds {
    /// When recent rounds went out, oldest first (a few are enough).
    sent_at: Vec<u64>,
}

/// What one socket's check at a ping round decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketCheck {
    /// Alive (or too young to judge): send it the ping.
    Ping,
    /// No namespace connected before its deadline.
    ConnectTimeout,
    /// It did not pong a ping sent long enough ago.
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

const ROUNDS_KEPT: usize = 4;

impl PingRounds {
    /// Judges one socket at `now_ms`, before this round's ping goes out.
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
        // the newest round whose pong deadline has passed, and that this socket saw
        let judged = self.sent_at.iter().rev().find(|&&sent| {
            sent >= socket.opened_at_ms && now_ms.saturating_sub(sent) >= config.ping_timeout_ms
        });
        match judged {
            Some(&sent) if socket.last_pong_at_ms.is_none_or(|pong| pong < sent) => {
                SocketCheck::PingTimeout
            }
            _ => SocketCheck::Ping,
        }
    }

    /// Records that a round of pings went out at `now_ms`.
    pub fn sent(&mut self, now_ms: u64) {
        self.sent_at.push(now_ms);
        if self.sent_at.len() > ROUNDS_KEPT {
            self.sent_at.remove(0);
        }
    }

    /// When the next round is due.
    pub fn next_round_at(config: HeartbeatConfig, now_ms: u64) -> u64 {
        now_ms.saturating_add(config.ping_interval_ms)
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
    fn a_gateway_that_just_woke_pings_everyone_and_closes_nobody() {
        let rounds = PingRounds::default();
        assert_eq!(
            rounds.check(cfg(), socket(0, None), 1_000_000),
            SocketCheck::Ping
        );
    }

    #[test]
    fn a_socket_that_ponged_the_last_round_stays() {
        let mut rounds = PingRounds::default();
        rounds.sent(25_000);
        assert_eq!(
            rounds.check(cfg(), socket(0, Some(25_040)), 50_000),
            SocketCheck::Ping
        );
    }

    #[test]
    fn a_silent_socket_is_closed_once_the_timeout_has_passed() {
        let mut rounds = PingRounds::default();
        rounds.sent(25_000);
        // an old pong from before the round does not count
        let silent = socket(0, Some(1_000));
        assert_eq!(rounds.check(cfg(), silent, 44_999), SocketCheck::Ping);
        assert_eq!(
            rounds.check(cfg(), silent, 45_000),
            SocketCheck::PingTimeout
        );
        assert_eq!(
            rounds.check(cfg(), socket(0, None), 50_000),
            SocketCheck::PingTimeout
        );
    }

    #[test]
    fn a_socket_opened_after_the_round_is_not_judged_by_it() {
        let mut rounds = PingRounds::default();
        rounds.sent(25_000);
        assert_eq!(
            rounds.check(cfg(), socket(30_000, None), 50_000),
            SocketCheck::Ping
        );
    }

    #[test]
    fn a_timeout_longer_than_the_interval_judges_an_older_round() {
        let config = HeartbeatConfig::new(10_000, 15_000).unwrap();
        let mut rounds = PingRounds::default();
        rounds.sent(10_000);
        rounds.sent(20_000);
        // at 30 s the 20 s round is too recent; the 10 s one is judged
        assert_eq!(
            rounds.check(config, socket(0, Some(12_000)), 30_000),
            SocketCheck::Ping
        );
        assert_eq!(
            rounds.check(config, socket(0, Some(9_000)), 30_000),
            SocketCheck::PingTimeout
        );
    }

    #[test]
    fn connect_deadline_closes_a_socket_that_never_connected() {
        let rounds = PingRounds::default();
        let mut s = socket(0, None);
        s.connect_deadline_ms = Some(45_000);
        assert_eq!(rounds.check(cfg(), s, 44_000), SocketCheck::Ping);
        assert_eq!(rounds.check(cfg(), s, 45_000), SocketCheck::ConnectTimeout);
    }

    #[test]
    fn only_a_few_rounds_are_kept() {
        let mut rounds = PingRounds::default();
        for n in 1..=10 {
            rounds.sent(n * 1_000);
        }
        assert_eq!(rounds.sent_at, [7_000, 8_000, 9_000, 10_000]);
        assert_eq!(PingRounds::next_round_at(cfg(), u64::MAX), u64::MAX);
    }
}
