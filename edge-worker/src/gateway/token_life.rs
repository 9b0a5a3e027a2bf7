//! A token's life on a live socket. The token is verified at CONNECT; its
//! `exp` (plus the leeway) is kept in the session. Past it the socket can
//! neither send nor join: every event but `refresh_token` is answered with
//! the ack error `TOKEN_EXPIRED`, and the socket is told once with a
//! `token_expired` event on each namespace it connected. `refresh_token
//! {token}` carries a fresh token, verified exactly like a CONNECT's (same
//! rules, same user); without one the heartbeat closes the socket once the
//! refresh grace (`TOKEN_REFRESH_GRACE_SECS`) is over.

use serde_json::Value;
use shared_types::socket::{
    client_events, server_events, Ack, RefreshToken, TokenExpired, TokenRefreshed,
};
use shared_types::ErrorCode;

use crate::gateway::dispatch::{ack_frames, AckHandle, Action};
use crate::gateway::session::SessionState;
use crate::protocol::socketio;

/// The client event carrying a fresh token: `refresh_token {token}`.
pub const REFRESH_TOKEN: &str = client_events::REFRESH_TOKEN;
/// The server event telling a socket its token expired.
pub const TOKEN_EXPIRED: &str = server_events::TOKEN_EXPIRED;
/// How long after its token expired a socket may still refresh it, by default.
pub const DEFAULT_REFRESH_GRACE_MS: u64 = 60_000;

impl SessionState {
    /// Whether the token this socket authenticated with has run out at `now_ms`.
    pub fn token_expired(&self, now_ms: u64) -> bool {
        self.token_valid_until_ms
            .is_some_and(|until| now_ms > until)
    }

    /// When the heartbeat closes this socket unless a fresh token arrives.
    pub fn token_deadline_ms(&self, grace_ms: u64) -> Option<u64> {
        self.token_valid_until_ms
            .map(|until| until.saturating_add(grace_ms))
    }

    /// Records the validity of the token that authenticated the socket (or refreshed it).
    pub fn set_token_valid_until(&mut self, valid_until_ms: u64) {
        self.token_valid_until_ms = Some(valid_until_ms);
        self.told_token_expired = false;
    }

    /// An event on an authenticated socket: `Some(action)` when the token's
    /// life decides it (a refresh, or a refusal past expiry), `None` to
    /// handle the event as usual.
    pub fn token_gate(
        &mut self,
        nsp: &str,
        ack: Option<&AckHandle>,
        name: &str,
        args: &[Value],
        now_ms: u64,
    ) -> Option<Action> {
        if name == REFRESH_TOKEN {
            let token = args
                .first()
                .cloned()
                .and_then(|v| serde_json::from_value::<RefreshToken>(v).ok())
                .map(|r| r.token)
                .filter(|t| !t.is_empty());
            return Some(match token {
                Some(token) => Action::RefreshToken {
                    ack: ack.cloned(),
                    token,
                },
                None => Action::Reply(ack_frames(
                    ack,
                    &Ack::err(ErrorCode::TokenMissing, "refresh_token needs {token}"),
                )),
            });
        }
        if !self.token_expired(now_ms) {
            return None;
        }
        let mut frames = ack_frames(
            ack,
            &Ack::err(
                ErrorCode::TokenExpired,
                "token expired: send refresh_token {token} to continue",
            ),
        );
        if !self.told_token_expired {
            frames.extend(self.expiry_frames(Some(nsp)));
        }
        Some(Action::Reply(frames))
    }

    /// At a heartbeat round: the `token_expired` events for a socket whose
    /// token ran out and that was not told yet (empty otherwise).
    pub fn expiry_notice(&mut self, now_ms: u64) -> Vec<String> {
        if self.told_token_expired || !self.token_expired(now_ms) {
            return Vec::new();
        }
        self.expiry_frames(None)
    }

    /// `token_expired` on `first` (if connected) and every other connected namespace.
    fn expiry_frames(&mut self, first: Option<&str>) -> Vec<String> {
        self.told_token_expired = true;
        let data = serde_json::to_value(TokenExpired {
            expired_at_ms: self.token_valid_until_ms,
        })
        .unwrap_or_default();
        let mut namespaces: Vec<&str> = self.namespaces.iter().collect();
        if let Some(first) = first {
            namespaces.retain(|n| *n != first);
            if self.namespaces.contains(first) {
                namespaces.insert(0, first);
            }
        }
        namespaces
            .into_iter()
            .map(|nsp| socketio::event(nsp, TOKEN_EXPIRED, &data))
            .collect()
    }

    /// The fresh token verified as `tms_user_id`, valid until `valid_until_ms`:
    /// the ack frames. Another user's token is refused: one identity per socket.
    pub fn on_token_refreshed(
        &mut self,
        ack: Option<&AckHandle>,
        tms_user_id: &str,
        valid_until_ms: u64,
    ) -> Vec<String> {
        if self.tms_user_id.as_deref() != Some(tms_user_id) {
            return ack_frames(
                ack,
                &Ack::err(
                    ErrorCode::Forbidden,
                    "token belongs to another user than this connection",
                ),
            );
        }
        self.set_token_valid_until(valid_until_ms);
        let data = serde_json::to_value(TokenRefreshed { valid_until_ms }).unwrap_or_default();
        ack_frames(ack, &Ack::ok(data))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn authenticated(until: u64) -> SessionState {
        let mut s = SessionState::new("gw.1", None, NOW);
        s.on_authenticated("/messaging", "alice");
        s.set_token_valid_until(until);
        s
    }

    fn ack(id: u64) -> AckHandle {
        AckHandle {
            nsp: "/messaging".into(),
            id,
        }
    }

    fn frames(action: Option<Action>) -> Vec<String> {
        match action {
            Some(Action::Reply(frames)) => frames,
            other => panic!("expected frames, got {other:?}"),
        }
    }

    #[test]
    fn before_expiry_events_pass() {
        let mut s = authenticated(NOW + 1_000);
        assert_eq!(
            s.token_gate(
                "/messaging",
                Some(&ack(1)),
                "send_message",
                &[],
                NOW + 1_000
            ),
            None
        );
    }

    #[test]
    fn past_expiry_events_are_refused_and_the_socket_is_told_once() {
        let mut s = authenticated(NOW + 1_000);
        let first = frames(s.token_gate(
            "/messaging",
            Some(&ack(1)),
            "join_conversation",
            &[],
            NOW + 1_001,
        ));
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first[0].starts_with("43/messaging,1["), "{}", first[0]);
        assert!(first[0].contains("TOKEN_EXPIRED"));
        assert!(
            first[1].starts_with("42/messaging,[\"token_expired\""),
            "{}",
            first[1]
        );
        let again = frames(s.token_gate(
            "/messaging",
            Some(&ack(2)),
            "send_message",
            &[],
            NOW + 2_000,
        ));
        assert_eq!(again.len(), 1, "told once");
        assert!(again[0].contains("TOKEN_EXPIRED"));
        assert!(s.expiry_notice(NOW + 3_000).is_empty());
    }

    #[test]
    fn the_heartbeat_tells_a_silent_socket_and_knows_its_deadline() {
        let mut s = authenticated(NOW + 1_000);
        assert!(s.expiry_notice(NOW + 1_000).is_empty());
        let told = s.expiry_notice(NOW + 1_001);
        assert_eq!(told.len(), 1);
        assert!(told[0].contains("token_expired"));
        assert_eq!(s.token_deadline_ms(60_000), Some(NOW + 61_000));
        assert_eq!(
            SessionState::new("x", None, NOW).token_deadline_ms(60_000),
            None
        );
    }

    #[test]
    fn a_fresh_token_of_the_same_user_revives_the_socket() {
        let mut s = authenticated(NOW + 1_000);
        let refresh = json!({ "token": "jwt" });
        assert_eq!(
            s.token_gate(
                "/messaging",
                Some(&ack(3)),
                REFRESH_TOKEN,
                &[refresh],
                NOW + 5_000
            ),
            Some(Action::RefreshToken {
                ack: Some(ack(3)),
                token: "jwt".into()
            })
        );
        let missing = frames(s.token_gate(
            "/messaging",
            Some(&ack(4)),
            REFRESH_TOKEN,
            &[json!({})],
            NOW,
        ));
        assert!(missing[0].contains("TOKEN_MISSING"));

        let other = s.on_token_refreshed(Some(&ack(5)), "mallory", NOW + 100_000);
        assert!(other[0].contains("FORBIDDEN"));
        assert!(s.token_expired(NOW + 5_000), "still expired");

        let ok = s.on_token_refreshed(Some(&ack(6)), "alice", NOW + 100_000);
        assert!(ok[0].contains("\"ok\":true"), "{}", ok[0]);
        assert!(!s.token_expired(NOW + 5_000));
        assert_eq!(
            s.token_gate("/messaging", None, "send_message", &[], NOW + 5_000),
            None
        );
        assert!(!s.told_token_expired);
    }
}
