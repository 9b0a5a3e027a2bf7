//! Session: one Durable Object per WebSocket, with the hibernation API. All
//! per-socket state is the attachment (`SessionState`), so it survives
//! hibernation; the protocol logic is `crate::dispatch`, this only does I/O.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use serde_json::json;
use shared_types::api::SendMessage;
use shared_types::internal::{MarkReceipt, Membership, PersistMessage, PersistedMessage};
use shared_types::socket::{Ack, ConnectError, UserTyping, NS_MESSAGING};
use uuid::Uuid;
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use super::config::EdgeConfig;
use super::objects::{self, Deliver, Evicted, RoomBroadcast, RoomSession, UserSession};
use super::{auth, core_client, http};
use crate::dispatch::{ack_frames, not_a_member, AckHandle, Action, AlarmAction, Cleanup};
use crate::heartbeat::HeartbeatConfig;
use crate::socketio;
use crate::SessionState;

#[durable_object]
pub struct Session {
    state: State,
    env: Env,
    /// Sends waiting for the one in flight: a socket's messages reach core
    /// (and get their `seq`) in the order the client sent them. In memory: a
    /// socket with a send in flight is not idle, so it does not hibernate.
    pending_sends: RefCell<VecDeque<PendingSend>>,
    sending: Cell<bool>,
}

struct PendingSend {
    ack: Option<AckHandle>,
    user_id: String,
    payload: SendMessage,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

impl DurableObject for Session {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            pending_sends: RefCell::new(VecDeque::new()),
            sending: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            "/connect" => self.accept_upgrade(&req).await,
            "/evicted" => {
                let notice: Evicted = req.json().await?;
                for ws in self.state.get_websockets() {
                    Self::update(&ws, |s| s.on_evicted(notice.conversation_id))?;
                }
                Response::ok("evicted")
            }
            "/deliver" => {
                let message: Deliver = req.json().await?;
                self.deliver(&message)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let Some(mut session) = ws.deserialize_attachment::<SessionState>()? else {
            let _ = ws.close(Some(1011), Some("session state lost"));
            return Ok(());
        };
        let action = match message {
            WebSocketIncomingMessage::String(text) => session.on_text_frame(&text, now_ms()),
            WebSocketIncomingMessage::Binary(bytes) => session.on_binary_frame(bytes.len()),
        };
        // persist before any await: other frames may be handled meanwhile
        ws.serialize_attachment(&session)?;
        self.perform(&ws, action).await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> worker::Result<()> {
        self.shut(&ws, 1000, "closed").await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        self.shut(&ws, 1011, "socket error").await
    }

    async fn alarm(&self) -> worker::Result<Response> {
        for ws in self.state.get_websockets() {
            let Some(mut session) = ws.deserialize_attachment::<SessionState>()? else {
                continue;
            };
            let now = now_ms();
            let decision = session.on_alarm(now);
            ws.serialize_attachment(&session)?;
            match decision {
                AlarmAction::SendPing {
                    frame,
                    next_alarm_at,
                } => {
                    let _ = ws.send_with_str(frame);
                    self.state
                        .storage()
                        .set_alarm(objects::offset_ms(next_alarm_at, now))
                        .await?;
                }
                AlarmAction::Wait { next_alarm_at } => {
                    self.state
                        .storage()
                        .set_alarm(objects::offset_ms(next_alarm_at, now))
                        .await?;
                }
                AlarmAction::Close { code, reason } => self.shut(&ws, code, reason).await?,
            }
        }
        Response::ok("alarm handled")
    }
}

impl Session {
    fn config(&self) -> worker::Result<EdgeConfig> {
        EdgeConfig::from_env(&self.env).map_err(|e| {
            worker::console_error!("{e}");
            worker::Error::RustError("edge misconfigured".into())
        })
    }

    /// The WebSocket upgrade, forwarded by the Worker with the session id it chose.
    async fn accept_upgrade(&self, req: &Request) -> worker::Result<Response> {
        let config = self.config()?;
        let url = req.url()?;
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let Some(session_id) = query("sid") else {
            return Response::error("missing sid", 400);
        };
        let heartbeat = HeartbeatConfig::new(config.ping_interval_ms, config.ping_timeout_ms)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let now = now_ms();
        let (session, opened) = SessionState::open(session_id, query("token"), heartbeat, now);
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(&session)?;
        pair.server.send_with_str(&opened.frame)?;
        self.state
            .storage()
            .set_alarm(objects::offset_ms(opened.alarm_at_ms, now))
            .await?;
        Response::from_websocket(pair.client)
    }

    /// Frames from a Room or User object for this socket.
    fn deliver(&self, message: &Deliver) -> worker::Result<Response> {
        let sockets = self.state.get_websockets();
        if sockets.is_empty() {
            return Response::error("gone", 410);
        }
        for ws in sockets {
            let connected = ws
                .deserialize_attachment::<SessionState>()?
                .is_some_and(|s| s.namespaces.contains(&message.namespace));
            if connected {
                for frame in &message.frames {
                    let _ = ws.send_with_str(frame);
                }
            }
        }
        Response::ok("delivered")
    }

    fn send(ws: &WebSocket, frames: &[String]) {
        for frame in frames {
            let _ = ws.send_with_str(frame);
        }
    }

    /// Re-reads the attachment after an await, applies `change`, writes it back.
    fn update<T>(
        ws: &WebSocket,
        change: impl FnOnce(&mut SessionState) -> T,
    ) -> worker::Result<Option<T>> {
        let Some(mut session) = ws.deserialize_attachment::<SessionState>()? else {
            return Ok(None);
        };
        let out = change(&mut session);
        ws.serialize_attachment(&session)?;
        Ok(Some(out))
    }

    fn session_id(ws: &WebSocket) -> worker::Result<String> {
        Ok(ws
            .deserialize_attachment::<SessionState>()?
            .map(|s| s.session_id)
            .unwrap_or_default())
    }

    async fn perform(&self, ws: &WebSocket, action: Action) -> worker::Result<()> {
        match action {
            Action::None => {}
            Action::Reply(frames) => Self::send(ws, &frames),
            // The alarm set after each ping fires at the pong deadline, and the next
            // ping goes out from there, still inside the client's interval + timeout.
            // Not re-arming per pong saves a storage write per socket per interval.
            Action::RescheduleAlarm { .. } => {}
            Action::Close {
                code,
                reason,
                error,
            } => {
                if let Some(e) = error {
                    worker::console_log!("closing socket: {e}");
                }
                self.shut(ws, code, reason).await?;
            }
            Action::Authenticate { nsp, token } => self.authenticate(ws, &nsp, &token).await?,
            Action::JoinConversation {
                ack,
                user_id,
                conversation_id,
            } => self.join(ws, ack, &user_id, conversation_id).await?,
            Action::LeaveConversation {
                conversation_id,
                reply,
            } => {
                self.leave_rooms(ws, &[conversation_id]).await?;
                Self::send(ws, &reply);
            }
            Action::LeaveConversations { conversation_ids } => {
                self.leave_rooms(ws, &conversation_ids).await?
            }
            Action::SendMessage {
                ack,
                user_id,
                payload,
            } => {
                self.pending_sends.borrow_mut().push_back(PendingSend {
                    ack,
                    user_id,
                    payload,
                });
                // the first send drains the queue; later ones wait their turn in it
                if !self.sending.replace(true) {
                    let drained = self.send_pending(ws).await;
                    self.sending.set(false);
                    drained?;
                }
            }
            Action::Typing {
                ack,
                user_id,
                conversation_id,
                typing,
            } => {
                let event = UserTyping {
                    conversation_id,
                    user_id: user_id.clone(),
                    typing,
                };
                let frame = socketio::event(
                    NS_MESSAGING,
                    "user_typing",
                    &serde_json::to_value(event).unwrap_or_default(),
                );
                let broadcast = RoomBroadcast {
                    namespace: NS_MESSAGING.into(),
                    frame,
                    from_session: Self::session_id(ws)?,
                    exclude_user: Some(user_id),
                };
                let answer = http::post_json(
                    &objects::room(&self.env, &conversation_id)?,
                    "/broadcast",
                    &broadcast,
                )
                .await?;
                let response = if answer.status_code() == 403 {
                    // evicted while the notice to this session was lost
                    Self::update(ws, |s| s.on_evicted(conversation_id))?;
                    not_a_member()
                } else {
                    Ack::ok_empty()
                };
                Self::send(ws, &ack_frames(ack.as_ref(), &response));
            }
            Action::MarkRead {
                ack,
                user_id,
                conversation_id,
                message_id,
            } => {
                self.receipt(ws, ack, &user_id, conversation_id, message_id, "read")
                    .await?
            }
            Action::MarkDelivered {
                ack,
                user_id,
                conversation_id,
                message_id,
            } => {
                self.receipt(ws, ack, &user_id, conversation_id, message_id, "delivered")
                    .await?
            }
            Action::CallSignal { ack, .. } => {
                let response = Ack::err(
                    shared_types::ErrorCode::BadRequest,
                    "call signaling is not available yet",
                );
                Self::send(ws, &ack_frames(ack.as_ref(), &response));
            }
        }
        Ok(())
    }

    async fn authenticate(&self, ws: &WebSocket, nsp: &str, token: &str) -> worker::Result<()> {
        let config = self.config()?;
        match auth::verify(&config, token).await {
            Ok(verified) => {
                let Some(outcome) =
                    Self::update(ws, |s| s.on_authenticated(nsp, &verified.tms_user_id))?
                else {
                    return Ok(());
                };
                if outcome.newly_authenticated {
                    let register = UserSession {
                        session_id: Self::session_id(ws)?,
                    };
                    let stub = objects::user(&self.env, &verified.tms_user_id)?;
                    if let Err(e) = http::post_json(&stub, "/register", &register).await {
                        worker::console_warn!("user registry unavailable: {e}");
                    }
                }
                Self::send(ws, &outcome.frames);
            }
            Err(e) => {
                let error = ConnectError::new(e.code(), e.message());
                if let Some(frame) = Self::update(ws, |s| s.on_auth_failed(nsp, &error))? {
                    Self::send(ws, &[frame]);
                }
            }
        }
        Ok(())
    }

    /// Asks core, registers with the Room, then asks core again: a removal
    /// that commits between the first answer and the registration sends its
    /// `member_removed` to a Room that does not hold this session yet, so only
    /// the second answer (core invalidates before it fans out) catches it.
    async fn join(
        &self,
        ws: &WebSocket,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
    ) -> worker::Result<()> {
        if let Some(refusal) = self.membership_refusal(user_id, conversation_id).await? {
            Self::send(ws, &ack_frames(ack.as_ref(), &refusal));
            return Ok(());
        }
        let session_id = Self::session_id(ws)?;
        let entry = RoomSession {
            session_id: session_id.clone(),
            user_id: user_id.to_string(),
        };
        http::post_json(
            &objects::room(&self.env, &conversation_id)?,
            "/join",
            &entry,
        )
        .await?;
        if let Some(refusal) = self.membership_refusal(user_id, conversation_id).await? {
            self.leave_rooms_by_id(&session_id, &[conversation_id])
                .await;
            Self::send(ws, &ack_frames(ack.as_ref(), &refusal));
            return Ok(());
        }
        match Self::update(ws, |s| s.on_join_confirmed(ack.as_ref(), conversation_id))? {
            Some(Some(frames)) => Self::send(ws, &frames),
            // the socket closed meanwhile; its cleanup did not know this room yet
            _ => {
                self.leave_rooms_by_id(&session_id, &[conversation_id])
                    .await
            }
        }
        Ok(())
    }

    /// `None` if core says the user is a member; else the ack to answer with
    /// (`FORBIDDEN`, or core's error when it could not answer).
    async fn membership_refusal(
        &self,
        user_id: &str,
        conversation_id: Uuid,
    ) -> worker::Result<Option<Ack>> {
        let config = self.config()?;
        let path = format!("/internal/v1/conversations/{conversation_id}/membership");
        let answer: Result<Membership, _> =
            core_client::call::<(), _>(&config, Method::Get, &path, user_id, None).await;
        Ok(match answer {
            Ok(m) if m.is_member => None,
            Ok(_) => Some(not_a_member()),
            Err(e) => Some(Ack::err(e.code, e.message)),
        })
    }

    /// Persists queued sends one at a time and acks each after core commits.
    async fn send_pending(&self, ws: &WebSocket) -> worker::Result<()> {
        let config = self.config()?;
        loop {
            let next = self.pending_sends.borrow_mut().pop_front();
            let Some(send) = next else {
                return Ok(());
            };
            let body = PersistMessage::new(send.payload);
            let result: Result<PersistedMessage, _> = core_client::call(
                &config,
                Method::Post,
                "/internal/v1/messages",
                &send.user_id,
                Some(&body),
            )
            .await;
            let response = match result {
                Ok(persisted) => {
                    Ack::ok(serde_json::to_value(persisted.message).unwrap_or_default())
                }
                Err(e) => Ack::err(e.code, e.message),
            };
            Self::send(ws, &ack_frames(send.ack.as_ref(), &response));
        }
    }

    async fn receipt(
        &self,
        ws: &WebSocket,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
        message_id: Uuid,
        kind: &str,
    ) -> worker::Result<()> {
        let config = self.config()?;
        let body = MarkReceipt {
            conversation_id,
            message_id,
        };
        let path = format!("/internal/v1/receipts/{kind}");
        let result: Result<serde_json::Value, _> =
            core_client::call(&config, Method::Post, &path, user_id, Some(&body)).await;
        let response = match result {
            Ok(data) => Ack::ok(data),
            Err(e) => Ack::err(e.code, e.message),
        };
        Self::send(ws, &ack_frames(ack.as_ref(), &response));
        Ok(())
    }

    async fn leave_rooms(&self, ws: &WebSocket, conversation_ids: &[Uuid]) -> worker::Result<()> {
        let session_id = Self::session_id(ws)?;
        self.leave_rooms_by_id(&session_id, conversation_ids).await;
        Ok(())
    }

    /// Closes the socket (if open) and undoes its registrations.
    async fn shut(&self, ws: &WebSocket, code: u16, reason: &str) -> worker::Result<()> {
        let session_id = Self::session_id(ws)?;
        let cleanup: Cleanup = Self::update(ws, |s| s.on_close())?.unwrap_or_default();
        let _ = ws.close(Some(code), Some(reason));
        self.leave_rooms_by_id(&session_id, &cleanup.conversation_ids)
            .await;
        if let Some(user) = cleanup.tms_user_id {
            let entry = UserSession { session_id };
            if let Ok(stub) = objects::user(&self.env, &user) {
                let _ = http::post_json(&stub, "/unregister", &entry).await;
            }
        }
        // the alarm is left to fire once more and find no socket: deleting it from
        // inside the alarm handler confuses the runtime
        Ok(())
    }

    async fn leave_rooms_by_id(&self, session_id: &str, conversation_ids: &[Uuid]) {
        for id in conversation_ids {
            let entry = json!({ "session_id": session_id });
            let left = match objects::room(&self.env, id) {
                Ok(stub) => http::post_json(&stub, "/leave", &entry).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = left {
                worker::console_warn!("room leave failed: {e}");
            }
        }
    }
}
