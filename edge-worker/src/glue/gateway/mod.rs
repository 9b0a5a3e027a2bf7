//! Gateway: a Durable Object holding many WebSockets near their clients,
//! with the hibernation API. Each socket's state is its attachment
//! (`SessionState`) and its protocol runs through `crate::dispatch`; the
//! indexes (`crate::socket_index`) are rebuilt from the attachments when the
//! object wakes. One alarm pings every socket; pongs are answered by the
//! runtime's auto-response and never run this code. This file only does I/O.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use shared_types::api::ValidSend;
use shared_types::internal::{MarkReceipt, Membership, PersistMessage, PersistedMessage};
use shared_types::socket::{Ack, ConnectError, UserTyping, NS_MESSAGING};
use shared_types::ErrorCode;
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

use super::config::EdgeConfig;
use super::core_client::{self, CoreError};
use super::objects::{self, Relay, Subscription};
use super::{auth, http};
use crate::delivery::{Delivered, Delivery, DeliveryItem, OrderedQueues};
use crate::dispatch::{ack_frames, not_a_member, AckHandle, Action};
use crate::engineio::PING_FRAME;
use crate::gateway_name;
use crate::heartbeat::{PingRounds, SocketCheck};
use crate::presence_batch::PresenceBatch;
use crate::replay_guard::ReplayGuard;
use crate::socket_index::{SocketIndex, Transitions};
use crate::socketio;
use crate::stats::{self, ObjectCounters};
use crate::SessionState;

mod calls;
mod presence;

use calls::PendingCall;

#[wasm_bindgen]
extern "C" {
    /// The runtime's DurableObjectState, for the call workers-rs does not wrap.
    type RawState;
    #[wasm_bindgen(method, catch, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(this: &RawState, ws: &JsValue) -> Result<JsValue, JsValue>;
}

#[durable_object]
pub struct Gateway {
    state: State,
    raw_state: JsValue,
    inner: Rc<Inner>,
}

/// What background work (presence reports) needs after a handler returned.
struct Inner {
    env: Env,
    name: RefCell<Option<String>>,
    index: RefCell<Option<SocketIndex>>,
    sends: RefCell<OrderedQueues<PendingSend>>,
    /// A socket's `/calls` requests to core, one at a time in its order.
    calls: RefCell<OrderedQueues<PendingCall>>,
    presence: RefCell<PresenceBatch>,
    rounds: RefCell<PingRounds>,
    counters: RefCell<ObjectCounters>,
    replays: RefCell<ReplayGuard>,
    /// Increases with every subscription change sent to a Room.
    version: Cell<u64>,
    alarm_armed: Cell<bool>,
}

struct PendingSend {
    ack: Option<AckHandle>,
    user_id: String,
    payload: ValidSend,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

impl DurableObject for Gateway {
    fn new(state: State, env: Env) -> Self {
        let raw = state._inner();
        let raw_state: JsValue = raw.clone().into();
        let state = State::from(raw);
        // Engine.IO pong `3` → noop `6`, answered without waking the object
        match WebSocketRequestResponsePair::new("3", "6") {
            Ok(pair) => state.set_websocket_auto_response(&pair),
            Err(e) => worker::console_error!("auto-response not set: {e:?}"),
        }
        let counters = ObjectCounters {
            instance: uuid::Uuid::new_v4().simple().to_string(),
            ..Default::default()
        };
        let inner = Rc::new(Inner {
            env,
            name: RefCell::new(None),
            index: RefCell::new(None),
            sends: RefCell::new(OrderedQueues::new()),
            calls: RefCell::new(OrderedQueues::new()),
            presence: RefCell::new(PresenceBatch::default()),
            rounds: RefCell::new(PingRounds::default()),
            counters: RefCell::new(counters),
            replays: RefCell::new(ReplayGuard::default()),
            // versions keep increasing across restarts of the object
            version: Cell::new(now_ms().saturating_mul(1_000)),
            alarm_armed: Cell::new(false),
        });
        Self {
            state,
            raw_state,
            inner,
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        if path == "/stats" {
            let mut counters = self.inner.counters.borrow().clone();
            counters.sockets = self.state.get_websockets().len() as u64;
            return Response::from_json(&counters);
        }
        self.inner.counters.borrow_mut().requests += 1;
        match path.as_str() {
            "/connect" => self.accept_upgrade(&req).await,
            "/deliver" => {
                let delivery: Delivery = req.json().await?;
                self.deliver(delivery).await
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn websocket_message(
        &self,
        ws: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        self.inner.counters.borrow_mut().ws_messages += 1;
        let Some(mut session) = ws.deserialize_attachment::<SessionState>()? else {
            let _ = ws.close(Some(1011), Some("session state lost"));
            return Ok(());
        };
        let action = match message {
            WebSocketIncomingMessage::String(text) => session.on_text_frame(&text, now_ms()),
            WebSocketIncomingMessage::Binary(bytes) => session.on_binary_frame(bytes.len()),
        };
        // stored before any await: other frames may be handled meanwhile
        let transitions = self.store(&ws, &session)?;
        self.apply(transitions).await;
        self.perform(&ws, &session.session_id, action).await
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
        self.inner.counters.borrow_mut().alarms += 1;
        let config = self.config()?;
        let heartbeat = config.heartbeat();
        let now = now_ms();
        let sockets = self.state.get_websockets();
        let mut dead = Vec::new();
        for ws in &sockets {
            let Some(session) = ws.deserialize_attachment::<SessionState>()? else {
                continue;
            };
            let liveness = session.liveness(self.last_pong_at(ws));
            match self.inner.rounds.borrow().check(heartbeat, liveness, now) {
                SocketCheck::Ping => {
                    let _ = ws.send_with_str(PING_FRAME);
                }
                SocketCheck::ConnectTimeout => dead.push((ws.clone(), "connect timeout")),
                SocketCheck::PingTimeout => dead.push((ws.clone(), "ping timeout")),
            }
        }
        self.inner.rounds.borrow_mut().sent(now);
        for (ws, reason) in dead.iter() {
            self.shut(ws, 1000, reason).await?;
        }
        if self.inner.presence.borrow_mut().full_report_due(now) {
            let present = self.index().users();
            if !present.is_empty() {
                self.inner.report_present(present).await;
            }
        }
        let mut counters = self.inner.counters.borrow().clone();
        counters.sockets = (sockets.len() - dead.len()) as u64;
        worker::console_log!("{}", stats::log_line("gateway", &self.name(), &counters));
        if sockets.len() > dead.len() {
            let at = PingRounds::next_round_at(heartbeat, now);
            self.set_alarm(at, now).await?;
        } else {
            self.inner.alarm_armed.set(false);
        }
        Response::ok("pinged")
    }
}

impl Gateway {
    fn config(&self) -> worker::Result<EdgeConfig> {
        EdgeConfig::from_env(&self.inner.env).map_err(|e| {
            worker::console_error!("{e}");
            worker::Error::RustError("edge misconfigured".into())
        })
    }

    fn last_pong_at(&self, ws: &WebSocket) -> Option<u64> {
        let raw: &RawState = self.raw_state.unchecked_ref();
        let socket: &JsValue = ws.as_ref().as_ref();
        let stamp = raw.auto_response_timestamp(socket).ok()?;
        let date: &js_sys::Date = stamp.dyn_ref()?;
        Some(date.get_time() as u64)
    }

    /// The indexes, rebuilt from the attachments when the object just woke.
    fn index(&self) -> RefMut<'_, SocketIndex> {
        let mut slot = self.inner.index.borrow_mut();
        if slot.is_none() {
            let states: Vec<SessionState> = self
                .state
                .get_websockets()
                .iter()
                .filter_map(|ws| ws.deserialize_attachment::<SessionState>().ok().flatten())
                .collect();
            if self.inner.name.borrow().is_none() {
                *self.inner.name.borrow_mut() = states
                    .iter()
                    .find_map(|s| gateway_name::gateway_of_session(&s.session_id))
                    .map(str::to_owned);
            }
            *slot = Some(SocketIndex::rebuild(&states));
        }
        RefMut::map(slot, |s| s.get_or_insert_with(SocketIndex::default))
    }

    fn name(&self) -> String {
        if self.inner.name.borrow().is_none() {
            drop(self.index());
        }
        self.inner.name.borrow().clone().unwrap_or_default()
    }

    /// Writes a socket's attachment and updates the indexes from it. The
    /// indexes are built first: a gateway that just woke must read the old
    /// attachment, or the change would report no transition.
    fn store(&self, ws: &WebSocket, session: &SessionState) -> worker::Result<Transitions> {
        let mut index = self.index();
        ws.serialize_attachment(session)?;
        Ok(index.upsert(&session.session_id, session))
    }

    /// Re-reads the attachment after an await, applies `change`, stores it.
    fn update<T>(
        &self,
        ws: &WebSocket,
        change: impl FnOnce(&mut SessionState) -> T,
    ) -> worker::Result<Option<(T, Transitions)>> {
        let Some(mut session) = ws.deserialize_attachment::<SessionState>()? else {
            return Ok(None);
        };
        let out = change(&mut session);
        let transitions = self.store(ws, &session)?;
        Ok(Some((out, transitions)))
    }

    fn socket(&self, session_id: &str) -> Option<WebSocket> {
        self.state
            .get_websockets_with_tag(session_id)
            .into_iter()
            .next()
    }

    async fn set_alarm(&self, at_ms: u64, now: u64) -> worker::Result<()> {
        self.inner.counters.borrow_mut().storage_writes += 1;
        self.state
            .storage()
            .set_alarm(objects::offset_ms(at_ms, now))
            .await?;
        self.inner.alarm_armed.set(true);
        Ok(())
    }

    /// The WebSocket upgrade, forwarded by the Worker with this gateway's name.
    async fn accept_upgrade(&self, req: &Request) -> worker::Result<Response> {
        let config = self.config()?;
        let url = req.url()?;
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let Some(gateway) = query("gw") else {
            return Response::error("missing gw", 400);
        };
        if self.state.get_websockets().len() >= config.gateway_max_sockets {
            return Response::error("gateway full", 503);
        }
        *self.inner.name.borrow_mut() = Some(gateway.clone());
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let session_id = gateway_name::session_id(&gateway, &nonce);
        let now = now_ms();
        let (session, opened) =
            SessionState::open(&session_id, query("token"), config.heartbeat(), now);
        let pair = WebSocketPair::new()?;
        self.state
            .accept_websocket_with_tags(&pair.server, &[session_id.as_str()]);
        self.store(&pair.server, &session)?;
        pair.server.send_with_str(&opened.frame)?;
        if !self.inner.alarm_armed.get() {
            if self.state.storage().get_alarm().await?.is_none() {
                let at = crate::heartbeat::PingRounds::next_round_at(config.heartbeat(), now);
                self.set_alarm(at, now).await?;
            }
            self.inner.alarm_armed.set(true);
        }
        Response::from_websocket(pair.client)
    }

    /// Frames from a Room or from core (through the Worker) for local sockets.
    async fn deliver(&self, delivery: Delivery) -> worker::Result<Response> {
        if let Some(signature) = &delivery.signature {
            if !self
                .inner
                .replays
                .borrow_mut()
                .first_sight(signature, now_ms())
            {
                return Response::error("replayed", 401);
            }
        }
        let mut answer = Delivered::default();
        for item in &delivery.items {
            let plan = self.index().plan(item);
            for (sid, frame) in &plan.sends {
                if let Some(ws) = self.socket(sid) {
                    if ws.send_with_str(frame).is_ok() {
                        answer.frames += 1;
                    }
                }
            }
            for (sid, conversation_id) in &plan.evict {
                if let Some(ws) = self.socket(sid) {
                    // the Room learns from `not_joined` below; no separate unsubscribe
                    if let Some((_, t)) = self.update(&ws, |s| s.on_evicted(*conversation_id))? {
                        self.report_presence(&t);
                    }
                }
            }
            for sid in &plan.close {
                if let Some(ws) = self.socket(sid) {
                    self.shut(&ws, 1000, "session closed by the server").await?;
                }
            }
            if let DeliveryItem::Room {
                conversation_id, ..
            } = item
            {
                let empty = self.index().joined_sockets(conversation_id) == 0;
                if empty && !answer.not_joined.contains(conversation_id) {
                    answer.not_joined.push(*conversation_id);
                }
            }
        }
        self.inner.counters.borrow_mut().frames_sent += u64::from(answer.frames);
        Response::from_json(&answer)
    }

    /// Acts on what an attachment change meant for the gateway as a whole:
    /// Room subscriptions (awaited) and presence (batched, in the background).
    async fn apply(&self, t: Transitions) -> bool {
        self.report_presence(&t);
        let mut ok = true;
        for conversation_id in &t.subscribe {
            ok &= self.subscription(*conversation_id, true).await;
        }
        for conversation_id in &t.unsubscribe {
            self.subscription(*conversation_id, false).await;
        }
        ok
    }

    fn report_presence(&self, t: &Transitions) {
        {
            let mut batch = self.inner.presence.borrow_mut();
            if let Some(user) = &t.arrived {
                batch.arrived(user);
            }
            if let Some(user) = &t.departed {
                batch.departed(user);
            }
        }
        if t.arrived.is_some() || t.departed.is_some() {
            let inner = Rc::clone(&self.inner);
            let gateway = self.name();
            self.state
                .wait_until(async move { inner.flush_presence(gateway).await });
        }
    }

    /// Tells the conversation's Room that this gateway holds (or no longer
    /// holds) joined sockets. Returns whether the Room took it.
    async fn subscription(&self, conversation_id: Uuid, subscribed: bool) -> bool {
        let version = self.inner.version.get().saturating_add(1);
        self.inner.version.set(version);
        let body = Subscription {
            conversation_id,
            gateway: self.name(),
            version,
        };
        let path = if subscribed {
            "/subscribe"
        } else {
            "/unsubscribe"
        };
        let timeout = self.config().map(|c| c.object_timeout_ms).unwrap_or(5_000);
        let result = match objects::room(&self.inner.env, &conversation_id) {
            Ok(stub) => http::post_json(&stub, path, &body, timeout).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(resp) if resp.status_code() == 200 => true,
            Ok(resp) => {
                worker::console_warn!("room {path} answered {}", resp.status_code());
                false
            }
            Err(e) => {
                worker::console_warn!("room {path} failed: {e}");
                false
            }
        }
    }

    fn send(&self, ws: &WebSocket, frames: &[String]) {
        for frame in frames {
            let _ = ws.send_with_str(frame);
        }
    }

    fn ack(&self, session_id: &str, ack: Option<&AckHandle>, response: &Ack) {
        if let Some(ws) = self.socket(session_id) {
            self.send(&ws, &ack_frames(ack, response));
        }
    }

    async fn perform(
        &self,
        ws: &WebSocket,
        session_id: &str,
        action: Action,
    ) -> worker::Result<()> {
        match action {
            Action::None => {}
            Action::Reply(frames) => self.send(ws, &frames),
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
            // the attachment is already stored: the Room was told if it was the last socket
            Action::LeaveConversation { reply, .. } => self.send(ws, &reply),
            Action::LeaveConversations { .. } => {}
            Action::SendMessage {
                ack,
                user_id,
                payload,
            } => {
                let item = PendingSend {
                    ack,
                    user_id,
                    payload,
                };
                // the first send drains the socket's queue; later ones wait their turn
                if self.inner.sends.borrow_mut().push(session_id, item) {
                    self.send_pending(session_id).await?;
                }
            }
            Action::Typing {
                ack,
                user_id,
                conversation_id,
                typing,
            } => {
                let response = self.typing(&user_id, conversation_id, typing).await;
                self.send(ws, &ack_frames(ack.as_ref(), &response));
            }
            Action::MarkRead {
                ack,
                user_id,
                conversation_id,
                message_id,
            } => {
                let response = self
                    .receipt(&user_id, conversation_id, message_id, "read")
                    .await?;
                self.send(ws, &ack_frames(ack.as_ref(), &response));
            }
            Action::MarkDelivered {
                ack,
                user_id,
                conversation_id,
                message_id,
            } => {
                let response = self
                    .receipt(&user_id, conversation_id, message_id, "delivered")
                    .await?;
                self.send(ws, &ack_frames(ack.as_ref(), &response));
            }
            Action::Call {
                ack,
                user_id,
                request,
            } => {
                let item = PendingCall {
                    ack,
                    user_id,
                    request,
                };
                // in the socket's order, like sends: an offer before its ICE candidates
                if self.inner.calls.borrow_mut().push(session_id, item) {
                    self.call_pending(session_id).await;
                }
            }
        }
        Ok(())
    }

    async fn authenticate(&self, ws: &WebSocket, nsp: &str, token: &str) -> worker::Result<()> {
        let config = self.config()?;
        match auth::verify(&config, token).await {
            Ok(verified) => {
                let Some((outcome, t)) =
                    self.update(ws, |s| s.on_authenticated(nsp, &verified.tms_user_id))?
                else {
                    return Ok(());
                };
                self.apply(t).await;
                self.send(ws, &outcome.frames);
            }
            Err(e) => {
                let error = ConnectError::new(e.code(), e.message());
                if let Some((frame, _)) = self.update(ws, |s| s.on_auth_failed(nsp, &error))? {
                    self.send(ws, &[frame]);
                }
            }
        }
        Ok(())
    }

    /// Asks core, joins locally (subscribing this gateway at the Room if it is
    /// the first socket here), then asks core again: a removal that commits
    /// between the first answer and the join sends its eviction to a Room
    /// that may not list this gateway yet, so only the second answer (core
    /// invalidates before it fans out) catches it.
    async fn join(
        &self,
        ws: &WebSocket,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
    ) -> worker::Result<()> {
        if let Some(refusal) = self.membership_refusal(user_id, conversation_id).await? {
            self.send(ws, &ack_frames(ack.as_ref(), &refusal));
            return Ok(());
        }
        let Some((frames, t)) =
            self.update(ws, |s| s.on_join_confirmed(ack.as_ref(), conversation_id))?
        else {
            return Ok(());
        };
        let Some(frames) = frames else {
            return Ok(()); // closed meanwhile: its cleanup ran already
        };
        let refusal = if !self.apply(t).await {
            Some(Ack::err(
                ErrorCode::ServiceUnavailable,
                "the conversation's room is unavailable, retry later",
            ))
        } else {
            self.membership_refusal(user_id, conversation_id).await?
        };
        match refusal {
            None => self.send(ws, &frames),
            Some(refusal) => {
                if let Some((_, t)) = self.update(ws, |s| s.on_evicted(conversation_id))? {
                    self.apply(t).await;
                }
                self.send(ws, &ack_frames(ack.as_ref(), &refusal));
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
            Err(e) => Some(e.ack()),
        })
    }

    /// Writes `user_typing` to the other local sockets in the room and has
    /// the Room relay it to the other gateways: no call to core.
    async fn typing(&self, user_id: &str, conversation_id: Uuid, typing: bool) -> Ack {
        let event = UserTyping {
            conversation_id,
            user_id: user_id.to_owned(),
            typing,
        };
        let frame = socketio::event(
            NS_MESSAGING,
            "user_typing",
            &serde_json::to_value(event).unwrap_or_default(),
        );
        let local = DeliveryItem::Room {
            conversation_id,
            frame: Some(frame.clone()),
            namespace: NS_MESSAGING.into(),
            exclude_user: Some(user_id.to_owned()),
            evict_user: None,
            notify: None,
        };
        let plan = self.index().plan(&local);
        for (sid, frame) in &plan.sends {
            if let Some(ws) = self.socket(sid) {
                let _ = ws.send_with_str(frame);
            }
        }
        let relay = Relay {
            conversation_id,
            from_gateway: self.name(),
            namespace: NS_MESSAGING.into(),
            frame,
            exclude_user: user_id.to_owned(),
        };
        let timeout = self.config().map(|c| c.object_timeout_ms).unwrap_or(5_000);
        for attempt in 0..2 {
            let answer = match objects::room(&self.inner.env, &conversation_id) {
                Ok(stub) => http::post_json(&stub, "/relay", &relay, timeout).await,
                Err(e) => Err(e),
            };
            match answer {
                Ok(resp) if resp.status_code() == 200 => return Ack::ok_empty(),
                // the Room lost this gateway (a late "not joined"): subscribe again once
                Ok(resp) if resp.status_code() == 403 && attempt == 0 => {
                    self.subscription(conversation_id, true).await;
                }
                Ok(_) | Err(_) => break,
            }
        }
        Ack::err(
            ErrorCode::ServiceUnavailable,
            "the conversation's room is unavailable, retry later",
        )
    }

    /// Persists a socket's queued sends one at a time, acking each after core commits.
    async fn send_pending(&self, session_id: &str) -> worker::Result<()> {
        let config = match self.config() {
            Ok(c) => c,
            Err(e) => {
                // never leave the queue busy with acks hanging
                let error = Ack::err(ErrorCode::InternalError, "edge is misconfigured");
                loop {
                    let next = self.inner.sends.borrow_mut().take(session_id, usize::MAX);
                    let Some(batch) = next else {
                        return Err(e);
                    };
                    for send in batch {
                        self.ack(session_id, send.ack.as_ref(), &error);
                    }
                }
            }
        };
        loop {
            let next = self.inner.sends.borrow_mut().take(session_id, 1);
            let Some(send) = next.and_then(|mut batch| batch.pop()) else {
                return Ok(());
            };
            let body = PersistMessage::new(send.payload.into_inner());
            let result: Result<PersistedMessage, CoreError> = core_client::call(
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
                Err(e) => e.ack(),
            };
            self.ack(session_id, send.ack.as_ref(), &response);
        }
    }

    async fn receipt(
        &self,
        user_id: &str,
        conversation_id: Uuid,
        message_id: Uuid,
        kind: &str,
    ) -> worker::Result<Ack> {
        let config = self.config()?;
        let body = MarkReceipt {
            conversation_id,
            message_id,
        };
        let path = format!("/internal/v1/receipts/{kind}");
        let result: Result<serde_json::Value, _> =
            core_client::call(&config, Method::Post, &path, user_id, Some(&body)).await;
        Ok(match result {
            Ok(data) => Ack::ok(data),
            Err(e) => e.ack(),
        })
    }

    /// Closes the socket (if open) and undoes what it registered.
    async fn shut(&self, ws: &WebSocket, code: u16, reason: &str) -> worker::Result<()> {
        let closed = self.update(ws, |s| {
            s.on_close();
            s.session_id.clone()
        })?;
        let _ = ws.close(Some(code), Some(reason));
        if let Some((session_id, t)) = closed {
            self.inner.sends.borrow_mut().discard(&session_id);
            self.inner.calls.borrow_mut().discard(&session_id);
            self.apply(t).await;
        }
        Ok(())
    }
}
