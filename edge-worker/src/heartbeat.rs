//! Engine.IO v4 heartbeat, server-driven: every `ping_interval_ms` the server
//! sends `2`; the client must answer `3` within `ping_timeout_ms` or the
//! connection is considered dead. Pure state machine over an injected clock,
//! serializable so it survives hibernation inside the socket attachment; the
//! Durable Object alarm is what wakes it.

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

/// What the alarm handler must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatAction {
    /// Send an Engine.IO ping (`2`) and set the alarm to `next_alarm_at`.
    SendPing { next_alarm_at: u64 },
    /// The client missed its pong: close the socket.
    Close,
    /// Woken early (alarms are shared with other timers): just re-arm.
    Wait { next_alarm_at: u64 },
}

/// Field names are one letter: this lives in the size-limited socket attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    #[serde(rename = "i")]
    pub ping_interval_ms: u64,
    #[serde(rename = "t")]
    pub ping_timeout_ms: u64,
    /// When the last ping went out; the open time until the first ping.
    #[serde(rename = "l")]
    pub last_ping_sent_at: u64,
    #[serde(rename = "a")]
    pub awaiting_pong: bool,
}

impl Heartbeat {
    /// Starts the cycle at the handshake: the first ping is due one interval later.
    pub fn new(config: HeartbeatConfig, opened_at_ms: u64) -> Self {
        Self {
            ping_interval_ms: config.ping_interval_ms,
            ping_timeout_ms: config.ping_timeout_ms,
            last_ping_sent_at: opened_at_ms,
            awaiting_pong: false,
        }
    }

    pub fn config(&self) -> HeartbeatConfig {
        HeartbeatConfig {
            ping_interval_ms: self.ping_interval_ms,
            ping_timeout_ms: self.ping_timeout_ms,
        }
    }

    /// When this heartbeat next needs the alarm: the pong deadline while a ping
    /// is outstanding, else the next ping.
    pub fn next_alarm_at(&self) -> u64 {
        if self.awaiting_pong {
            self.pong_deadline()
        } else {
            self.next_ping_at()
        }
    }

    fn next_ping_at(&self) -> u64 {
        self.last_ping_sent_at.saturating_add(self.ping_interval_ms)
    }

    fn pong_deadline(&self) -> u64 {
        self.last_ping_sent_at.saturating_add(self.ping_timeout_ms)
    }

    pub fn on_alarm(&mut self, now_ms: u64) -> HeartbeatAction {
        if self.awaiting_pong {
            return if now_ms >= self.pong_deadline() {
                HeartbeatAction::Close
            } else {
                HeartbeatAction::Wait {
                    next_alarm_at: self.pong_deadline(),
                }
            };
        }
        if now_ms < self.next_ping_at() {
            return HeartbeatAction::Wait {
                next_alarm_at: self.next_ping_at(),
            };
        }
        self.last_ping_sent_at = now_ms;
        self.awaiting_pong = true;
        HeartbeatAction::SendPing {
            next_alarm_at: self.pong_deadline(),
        }
    }

    /// Records a pong and returns when the alarm should fire next (the next ping).
    /// The next ping is timed from the previous ping, not from the pong, so the
    /// client always sees a ping within `pingInterval + pingTimeout`.
    pub fn on_pong(&mut self, now_ms: u64) -> u64 {
        self.awaiting_pong = false;
        self.next_ping_at().max(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb() -> Heartbeat {
        Heartbeat::new(HeartbeatConfig::default(), 1_000)
    }

    #[test]
    fn defaults_match_engine_io() {
        let c = HeartbeatConfig::default();
        assert_eq!((c.ping_interval_ms, c.ping_timeout_ms), (25_000, 20_000));
    }

    #[test]
    fn config_is_validated() {
        assert!(HeartbeatConfig::new(25_000, 20_000).is_ok());
        assert_eq!(
            HeartbeatConfig::new(0, 20_000).unwrap_err().field,
            "ping_interval_ms"
        );
        assert_eq!(
            HeartbeatConfig::new(25_000, 999).unwrap_err().field,
            "ping_timeout_ms"
        );
        assert!(HeartbeatConfig::new(600_001, 20_000).is_err());
    }

    #[test]
    fn first_ping_is_one_interval_after_open() {
        let mut h = hb();
        assert_eq!(h.next_alarm_at(), 26_000);
        assert_eq!(
            h.on_alarm(25_999),
            HeartbeatAction::Wait {
                next_alarm_at: 26_000
            }
        );
        assert_eq!(
            h.on_alarm(26_000),
            HeartbeatAction::SendPing {
                next_alarm_at: 46_000
            }
        );
        assert!(h.awaiting_pong);
    }

    #[test]
    fn pong_in_time_schedules_next_ping_from_the_last_ping() {
        let mut h = hb();
        h.on_alarm(26_000);
        assert_eq!(h.on_pong(26_050), 51_000);
        assert!(!h.awaiting_pong);
        assert_eq!(
            h.on_alarm(51_000),
            HeartbeatAction::SendPing {
                next_alarm_at: 71_000
            }
        );
    }

    #[test]
    fn missing_pong_closes_at_the_deadline_not_before() {
        let mut h = hb();
        h.on_alarm(26_000);
        assert_eq!(
            h.on_alarm(45_999),
            HeartbeatAction::Wait {
                next_alarm_at: 46_000
            }
        );
        assert_eq!(h.on_alarm(46_000), HeartbeatAction::Close);
    }

    #[test]
    fn late_alarm_pings_immediately_and_pong_after_interval_rearms_now() {
        let mut h = hb();
        assert_eq!(
            h.on_alarm(90_000),
            HeartbeatAction::SendPing {
                next_alarm_at: 110_000
            }
        );
        // a pong arriving later than the interval re-arms for "now", never the past
        let mut slow = Heartbeat::new(HeartbeatConfig::new(1_000, 5_000).unwrap(), 0);
        slow.on_alarm(1_000);
        assert_eq!(slow.on_pong(4_000), 4_000);
    }

    #[test]
    fn unsolicited_pong_is_harmless() {
        let mut h = hb();
        assert_eq!(h.on_pong(2_000), 26_000);
        assert_eq!(
            h.on_alarm(26_000),
            HeartbeatAction::SendPing {
                next_alarm_at: 46_000
            }
        );
    }

    #[test]
    fn survives_serde_round_trip_with_compact_names() {
        let mut h = hb();
        h.on_alarm(26_000);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"{"i":25000,"t":20000,"l":26000,"a":true}"#);
        assert_eq!(serde_json::from_str::<Heartbeat>(&json).unwrap(), h);
    }

    #[test]
    fn huge_clock_values_saturate_instead_of_overflowing() {
        let mut h = Heartbeat::new(HeartbeatConfig::default(), u64::MAX - 1);
        assert_eq!(h.next_alarm_at(), u64::MAX);
        assert_eq!(
            h.on_alarm(u64::MAX),
            HeartbeatAction::SendPing {
                next_alarm_at: u64::MAX
            }
        );
        assert_eq!(h.on_alarm(u64::MAX), HeartbeatAction::Close);
    }
}
