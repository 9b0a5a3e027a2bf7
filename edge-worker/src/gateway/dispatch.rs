//! One socket's protocol logic inside a Gateway object: text frame in → one
//! `Action` out. The glue performs the action (I/O with core and the Room objects), then
//! calls back (`on_authenticated`, `on_join_confirmed`, …) for the frames to
//! send. Everything here is synchronous and pure over `SessionState`.
//!
//! Glue contract, per WebSocket event:
//! 1. read the attachment into `SessionState`;
//! 2. `on_text_frame` / `on_binary_frame` / `on_alarm`;
//! 3. write the attachment back *before* awaiting anything;
//! 4. perform the action; after an await, re-read the attachment, apply the
//!    callback, write it back (other frames may have been handled meanwhile).

mod action;
mod callbacks;

use serde_json::{json, Value};
use shared_types::socket::{Ack, ConnectAuth, ConnectError, NAMESPACES, NS_CALLS, NS_MESSAGING};
use shared_types::ErrorCode;

pub use action::{
    ack_frames, core_unavailable, not_a_member, AckHandle, Action, Authenticated, Cleanup, Opened,
    ResumeAsk, CORE_UNAVAILABLE,
};
use callbacks::joined_ack;

use crate::gateway::calls::parse_call_event;
use crate::gateway::events::{parse_messaging_event, MessagingEvent};
use crate::gateway::rate_guard::{RateDecision, WS_SOCKET_LIMIT};
use crate::gateway::session::{SessionState, MAX_JOINED_CONVERSATIONS};
use crate::protocol::engineio::{self, EioPacket};
use crate::protocol::error::{close_code, ProtocolError};
use crate::protocol::socketio::{self, SioPacket};

fn reply(frames: Vec<String>) -> Action {
    if frames.is_empty() {
        Action::None
    } else {
        Action::Reply(frames)
    }
}

fn close_for(error: ProtocolError) -> Action {
    Action::Close {
        code: error.close_code(),
        reason: error.close_reason(),
        error: Some(error),
    }
}

fn connect_error_frame(nsp: &str, code: ErrorCode, message: &str) -> String {
    socketio::connect_error(nsp, &ConnectError::new(code, message))
}

impl SessionState {
    pub fn on_binary_frame(&mut self, len: usize) -> Action {
        close_for(engineio::decode_binary_frame(len))
    }

    pub fn on_text_frame(&mut self, frame: &str, now_ms: u64) -> Action {
        let packet = match engineio::decode_text_frame(frame) {
            Ok(packet) => packet,
            Err(e) => return close_for(e),
        };
        match packet {
            EioPacket::Message(text) => self.on_socketio_text(text, now_ms),
            // a bare `3` is answered by the runtime's auto-response and never
            // gets here; liveness comes from that answer's timestamp. Any
            // other pong, and every noop, costs rate like any frame.
            EioPacket::Pong(_) | EioPacket::Noop => {
                let _ = self.rate.check(WS_SOCKET_LIMIT, now_ms);
                Action::None
            }
            // clients don't ping in v4; answer anyway, but a ping flood costs rate
            EioPacket::Ping(data) => match self.rate.check(WS_SOCKET_LIMIT, now_ms) {
                RateDecision::Allowed => {
                    Action::Reply(vec![engineio::encode(&EioPacket::Pong(data))])
                }
                RateDecision::Limited { .. } => Action::None,
            },
            EioPacket::Close => Action::Close {
                code: close_code::NORMAL,
                reason: "client closed",
                error: None,
            },
            EioPacket::Open(_) => close_for(ProtocolError::InvalidOpen(
                "open packets come from the server".into(),
            )),
        }
    }

    fn on_socketio_text(&mut self, text: &str, now_ms: u64) -> Action {
        let packet = match socketio::decode(text) {
            Ok(packet) => packet,
            Err(e) => return close_for(e),
        };
        if let RateDecision::Limited { retry_after_ms } = self.rate.check(WS_SOCKET_LIMIT, now_ms) {
            return rate_limited(&packet, retry_after_ms);
        }
        match packet {
            SioPacket::Connect { nsp, data } => self.on_connect(nsp, data),
            SioPacket::Disconnect { nsp } => self.on_disconnect(&nsp),
            SioPacket::Event {
                nsp,
                ack_id,
                name,
                args,
            } => self.on_event(nsp, ack_id, &name, args, now_ms),
            // the server never asks a client for an ack, and CONNECT_ERROR is server → client
            SioPacket::Ack { .. } | SioPacket::ConnectError { .. } => Action::None,
        }
    }

    fn on_connect(&mut self, nsp: String, data: Option<serde_json::Map<String, Value>>) -> Action {
        if !NAMESPACES.contains(&nsp.as_str()) {
            // the reference server's wording, which clients may match on
            return reply(vec![connect_error_frame(
                &nsp,
                ErrorCode::NotFound,
                "Invalid namespace",
            )]);
        }
        let auth = match data
            .map(|d| serde_json::from_value::<ConnectAuth>(Value::Object(d)))
            .transpose()
        {
            Ok(auth) => auth.unwrap_or_default(),
            Err(_) => {
                return reply(vec![connect_error_frame(
                    &nsp,
                    ErrorCode::TokenMalformed,
                    "auth.token must be a string",
                )])
            }
        };
        let token = auth
            .token
            .filter(|t| !t.is_empty())
            .or_else(|| self.query_token.clone());
        let resume = auth.pid.filter(|p| !p.is_empty()).map(|pid| ResumeAsk {
            pid,
            offset: auth.offset,
        });
        match token {
            Some(token) => Action::Authenticate {
                nsp,
                token,
                resume,
                no_recovery: auth.recovery == Some(false),
            },
            // one identity per socket: further namespaces need no new token
            None if self.is_authenticated() => {
                self.mark_connected(&nsp);
                reply(vec![socketio::connect_ok(&nsp, &self.socket_id(&nsp))])
            }
            None => reply(vec![connect_error_frame(
                &nsp,
                ErrorCode::TokenMissing,
                "authentication required: connect with auth {token}",
            )]),
        }
    }

    fn mark_connected(&mut self, nsp: &str) {
        self.namespaces.insert(nsp);
        self.connect_deadline_ms = None;
    }

    fn on_disconnect(&mut self, nsp: &str) -> Action {
        if !self.namespaces.remove(nsp) {
            return Action::None;
        }
        if nsp == NS_MESSAGING && !self.joined.is_empty() {
            let conversation_ids = std::mem::take(&mut self.joined).into_iter().collect();
            return Action::LeaveConversations { conversation_ids };
        }
        Action::None
    }

    fn on_event(
        &mut self,
        nsp: String,
        ack_id: Option<u64>,
        name: &str,
        args: Vec<Value>,
        now_ms: u64,
    ) -> Action {
        let ack = ack_id.map(|id| AckHandle {
            nsp: nsp.clone(),
            id,
        });
        let user_id = match (&self.tms_user_id, self.namespaces.contains(&nsp)) {
            (Some(user), true) => user.clone(),
            (None, _) => {
                let response = Ack::err(
                    ErrorCode::TokenMissing,
                    "not authenticated: connect with auth {token} first",
                );
                return reply(ack_frames(ack.as_ref(), &response));
            }
            (Some(_), false) => {
                let response = Ack::err(ErrorCode::Forbidden, "not connected to this namespace");
                return reply(ack_frames(ack.as_ref(), &response));
            }
        };
        // past the token's exp only `refresh_token` gets through (gateway::token_life)
        if let Some(action) = self.token_gate(&nsp, ack.as_ref(), name, &args, now_ms) {
            return action;
        }
        match nsp.as_str() {
            NS_MESSAGING => self.on_messaging_event(ack, user_id, name, &args, now_ms),
            NS_CALLS => match parse_call_event(name, &args, &user_id) {
                Ok(request) => Action::Call {
                    ack,
                    user_id,
                    request,
                },
                Err(response) => reply(ack_frames(ack.as_ref(), &response)),
            },
            _ => reply(ack_frames(
                ack.as_ref(),
                &Ack::err(ErrorCode::BadRequest, "this namespace is receive-only"),
            )),
        }
    }

    fn on_messaging_event(
        &mut self,
        ack: Option<AckHandle>,
        user_id: String,
        name: &str,
        args: &[Value],
        now_ms: u64,
    ) -> Action {
        let event = match parse_messaging_event(name, args) {
            Ok(event) => event,
            Err(response) => return reply(ack_frames(ack.as_ref(), &response)),
        };
        match event {
            MessagingEvent::JoinConversation(conversation_id) => {
                if self.joined.contains(&conversation_id) {
                    return reply(ack_frames(ack.as_ref(), &joined_ack(conversation_id)));
                }
                if self.joined.len() >= MAX_JOINED_CONVERSATIONS {
                    let message = format!(
                        "at most {MAX_JOINED_CONVERSATIONS} joined conversations: leave one first"
                    );
                    return reply(ack_frames(
                        ack.as_ref(),
                        &Ack::err(ErrorCode::BadRequest, message),
                    ));
                }
                Action::JoinConversation {
                    ack,
                    user_id,
                    conversation_id,
                }
            }
            MessagingEvent::LeaveConversation(conversation_id) => {
                let frames = ack_frames(
                    ack.as_ref(),
                    &Ack::ok(json!({ "conversation_id": conversation_id })),
                );
                if self.joined.remove(&conversation_id) {
                    Action::LeaveConversation {
                        conversation_id,
                        reply: frames,
                    }
                } else {
                    reply(frames)
                }
            }
            MessagingEvent::SendMessage(payload) => Action::SendMessage {
                ack,
                user_id,
                payload: *payload,
            },
            MessagingEvent::Typing {
                conversation_id,
                typing,
            } => {
                if !self.joined.contains(&conversation_id) {
                    let response = Ack::err(
                        ErrorCode::Forbidden,
                        "join the conversation before typing in it",
                    );
                    return reply(ack_frames(ack.as_ref(), &response));
                }
                if !self.relay_typing(conversation_id, typing, now_ms) {
                    // coalesced: the others already know this state
                    return reply(ack_frames(ack.as_ref(), &Ack::ok_empty()));
                }
                Action::Typing {
                    ack,
                    user_id,
                    conversation_id,
                    typing,
                }
            }
            MessagingEvent::Receipt(receipt) => Action::MarkReceipt {
                ack,
                user_id,
                receipt,
            },
        }
    }
}

fn rate_limited(packet: &SioPacket, retry_after_ms: u64) -> Action {
    let message = format!("too many messages: retry after {retry_after_ms} ms");
    match packet {
        SioPacket::Event {
            nsp,
            ack_id: Some(id),
            ..
        } => reply(vec![socketio::ack(
            nsp,
            *id,
            &Ack::err_with_details(
                ErrorCode::RateLimited,
                message,
                Some(serde_json::json!({ "retry_after_ms": retry_after_ms })),
            ),
        )]),
        SioPacket::Connect { nsp, .. } => reply(vec![connect_error_frame(
            nsp,
            ErrorCode::RateLimited,
            &message,
        )]),
        _ => Action::None,
    }
}

#[cfg(test)]
mod tests;
