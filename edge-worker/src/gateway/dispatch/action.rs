//! What the Gateway glue is told to do for one socket, and the small result types of the
//! callbacks it makes afterwards.

use shared_types::api::ValidSend;
use shared_types::socket::Ack;
use shared_types::ErrorCode;
use uuid::Uuid;

use crate::gateway::calls::CallRequest;
use crate::gateway::events::Receipt;
use crate::protocol::error::ProtocolError;
use crate::protocol::socketio;

/// Where to send the answer to a client's ack callback.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AckHandle {
    pub nsp: String,
    pub id: u64,
}

impl AckHandle {
    /// The ACK frame carrying `response`.
    pub fn frame(&self, response: &Ack) -> String {
        socketio::ack(&self.nsp, self.id, response)
    }

    /// The ACK frame of a success whose data is JSON already serialised.
    pub fn frame_ok_raw(&self, data_json: &str) -> String {
        socketio::ack_ok_raw(&self.nsp, self.id, data_json)
    }
}

/// The frames answering an optional ack: none when the client asked for no callback.
pub fn ack_frames(ack: Option<&AckHandle>, response: &Ack) -> Vec<String> {
    ack.map(|a| a.frame(response)).into_iter().collect()
}

/// What the glue must do after a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    /// Send these text frames, in order.
    Reply(Vec<String>),
    /// Close the socket with this code and reason, then run `on_close` cleanup.
    /// `error` is for logs only.
    Close {
        code: u16,
        reason: &'static str,
        error: Option<ProtocolError>,
    },
    /// Verify `token` (shared-auth), then call `on_authenticated(nsp, user)` or
    /// `on_auth_failed(nsp, err)` and send the frames they return.
    Authenticate {
        nsp: String,
        token: String,
        /// Connection-state recovery asked for (`{pid, offset}` in the auth).
        resume: Option<ResumeAsk>,
        /// The client declined recovery (`auth.recovery === false`).
        no_recovery: bool,
    },
    /// Run `gateway::join`: core is asked whether `user_id` is a member
    /// (core caches the answer; the edge does not, so a removed member
    /// cannot rejoin on a stale answer), before and after the join.
    JoinConversation {
        ack: Option<AckHandle>,
        user_id: String,
        conversation_id: Uuid,
    },
    /// Already removed from `joined`: remove the session from the Room object, send `reply`.
    LeaveConversation {
        conversation_id: Uuid,
        reply: Vec<String>,
    },
    /// `/messaging` was disconnected: remove the session from these Rooms. No frames.
    LeaveConversations {
        conversation_ids: Vec<Uuid>,
    },
    /// Persist at core in a batch (`gateway::sends`; core is authoritative for membership),
    /// ack `{ok:true,data:message}` or the core error (`FORBIDDEN` for a
    /// non-member). Core fans the message out after commit.
    SendMessage {
        ack: Option<AckHandle>,
        user_id: String,
        payload: ValidSend,
    },
    /// The session has joined the room: run `gateway::typing` (`user_typing`
    /// to everyone in the room but `user_id`, through the Room object).
    Typing {
        ack: Option<AckHandle>,
        user_id: String,
        conversation_id: Uuid,
        typing: bool,
    },
    /// Mark read or delivered at core (it checks membership), ack the result.
    MarkReceipt {
        ack: Option<AckHandle>,
        user_id: String,
        receipt: Receipt,
    },
    /// A `/calls` event, checked: send it to core (which checks membership
    /// and participation and records the change), in the socket's order
    /// (an offer before its ICE candidates), and ack core's answer.
    Call {
        ack: Option<AckHandle>,
        user_id: String,
        request: CallRequest,
    },
    /// `refresh_token {token}`: verify `token` exactly like a CONNECT's, then
    /// call `on_token_refreshed` (or ack the token's error code).
    RefreshToken {
        ack: Option<AckHandle>,
        token: String,
    },
}

/// What to do at connection start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The Engine.IO open packet, the socket's first frame.
    pub frame: String,
}

/// Result of `on_authenticated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub frames: Vec<String>,
    /// First identity of this socket: index it under its user.
    pub newly_authenticated: bool,
}

/// What to undo when the socket is gone (`websocket_close`, `Close` actions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// The user the socket was authenticated as.
    pub tms_user_id: Option<String>,
    /// The conversations it had joined.
    pub conversation_ids: Vec<Uuid>,
}

/// What a client is told when the edge could not get core's answer (down,
/// slow, garbled); the cause is logged, never shown.
pub const CORE_UNAVAILABLE: &str = "core is unavailable, retry later";

/// The ack for a call to core that got no usable answer.
pub fn core_unavailable() -> Ack {
    Ack::err(ErrorCode::CoreUnavailable, CORE_UNAVAILABLE)
}

/// The ack for a send (or join) to a conversation the user is not a member of.
pub fn not_a_member() -> Ack {
    Ack::err(ErrorCode::Forbidden, "not a member of this conversation")
}

/// A CONNECT's `{pid, offset}` (`gateway::recovery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeAsk {
    pub pid: String,
    pub offset: Option<String>,
}
