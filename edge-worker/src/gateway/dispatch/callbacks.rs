//! The callbacks the glue makes once it has done the I/O an `Action` asked
//! for, plus connection start, alarms and close.

use serde_json::json;
use shared_types::ids::{InvalidUserId, TmsUserId};
use shared_types::socket::{Ack, ConnectError, NAMESPACES};
use shared_types::ErrorCode;
use uuid::Uuid;

use super::{ack_frames, connect_error_frame, AckHandle, Authenticated, Cleanup, Opened};
use crate::gateway::session::SessionState;
use crate::protocol::engineio::{self, OpenHandshake};
use crate::protocol::heartbeat::{HeartbeatConfig, SocketLiveness};
use crate::protocol::socketio;

impl SessionState {
    /// A new socket: the state to attach and the open frame to send first.
    pub fn open(
        session_id: impl Into<String>,
        query_token: Option<String>,
        heartbeat: HeartbeatConfig,
        now_ms: u64,
    ) -> (Self, Opened) {
        let state = Self::new(session_id, query_token, now_ms);
        let frame = engineio::open_frame(&OpenHandshake::new(state.session_id.clone(), heartbeat));
        (state, Opened { frame })
    }

    /// The token verified as `tms_user_id`. Returns the CONNECT reply.
    pub fn on_authenticated(&mut self, nsp: &str, tms_user_id: &str) -> Authenticated {
        self.on_authenticated_with_pid(nsp, tms_user_id, None)
    }

    /// `on_authenticated` for a connection with a recovery `pid` (`gateway::recovery`).
    pub fn on_authenticated_with_pid(
        &mut self,
        nsp: &str,
        tms_user_id: &str,
        pid: Option<&str>,
    ) -> Authenticated {
        if self.closed {
            // closed while the token was being verified: nothing to answer or register
            return Authenticated {
                frames: Vec::new(),
                newly_authenticated: false,
            };
        }
        let refuse = |code, message: &str| Authenticated {
            frames: vec![connect_error_frame(nsp, code, message)],
            newly_authenticated: false,
        };
        if !NAMESPACES.contains(&nsp) {
            return refuse(ErrorCode::NotFound, "Invalid namespace");
        }
        // the verifier already applied the rule; this keeps the state sound
        // whatever calls it
        match TmsUserId::check(tms_user_id) {
            Ok(()) => {}
            Err(InvalidUserId::Empty) => {
                return refuse(ErrorCode::TokenSubjectMissing, "token has no subject")
            }
            Err(e) => return refuse(ErrorCode::TokenMalformed, e.message()),
        }
        let newly_authenticated = match &self.tms_user_id {
            None => {
                self.tms_user_id = Some(tms_user_id.to_owned());
                self.query_token = None;
                true
            }
            Some(user) if user == tms_user_id => false,
            Some(_) => {
                return refuse(
                    ErrorCode::Forbidden,
                    "token belongs to another user than this connection",
                )
            }
        };
        self.mark_connected(nsp);
        Authenticated {
            frames: vec![socketio::connect_ok_with_pid(
                nsp,
                &self.socket_id(nsp),
                pid,
            )],
            newly_authenticated,
        }
    }

    /// The token was rejected: the CONNECT_ERROR frame to send. The socket stays
    /// open (the client may retry); the connect timeout closes it if it never succeeds.
    pub fn on_auth_failed(&mut self, nsp: &str, error: &ConnectError) -> String {
        socketio::connect_error(nsp, error)
    }

    /// Core confirmed membership and the Room object registered the session.
    /// `None` when the socket closed while the join was in flight: the glue
    /// must take the session out of the Room again.
    pub fn on_join_confirmed(
        &mut self,
        ack: Option<&AckHandle>,
        conversation_id: Uuid,
    ) -> Option<Vec<String>> {
        if self.closed {
            return None;
        }
        self.joined.insert(conversation_id);
        Some(ack_frames(ack, &joined_ack(conversation_id)))
    }

    /// What the gateway's ping round needs to judge this socket;
    /// `refresh_grace_ms` is how long an expired token may still be replaced.
    pub fn liveness(&self, last_pong_at_ms: Option<u64>, refresh_grace_ms: u64) -> SocketLiveness {
        SocketLiveness {
            opened_at_ms: self.opened_at_ms,
            last_pong_at_ms,
            connect_deadline_ms: self
                .connect_deadline_ms
                .filter(|_| self.namespaces.is_empty()),
            token_deadline_ms: self.token_deadline_ms(refresh_grace_ms),
        }
    }

    /// Its user left or was removed from the conversation: forget the join,
    /// so a new `join_conversation` goes to core again. Returns whether it was joined.
    pub fn on_evicted(&mut self, conversation_id: Uuid) -> bool {
        self.joined.remove(&conversation_id)
    }

    /// The socket is gone: what to unregister. Leaves the state empty.
    pub fn on_close(&mut self) -> Cleanup {
        self.closed = true;
        self.namespaces = Default::default();
        self.connect_deadline_ms = None;
        Cleanup {
            tms_user_id: self.tms_user_id.take(),
            conversation_ids: std::mem::take(&mut self.joined).into_iter().collect(),
        }
    }
}

pub(super) fn joined_ack(conversation_id: Uuid) -> Ack {
    Ack::ok(json!({ "conversation_id": conversation_id }))
}
