//! Gateway: a Durable Object holding many WebSockets near their clients,
//! with the hibernation API. Each socket's state is its attachment
//! (`SessionState`) and its protocol runs through `crate::gateway::dispatch`; the
//! indexes (`crate::gateway::index`) are rebuilt from the attachments when the
//! object wakes. One alarm pings every socket; pongs are answered by the
//! runtime's auto-response and never run this code. This file only does I/O.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use rustc_hash::FxHashMap;
use shared_types::internal::{Membership, MAX_BATCHED_SENDS};
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::socket::{Ack, ConnectError};
use uuid::Uuid;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

use crate::common::queues::OrderedQueues;
use crate::common::replay_guard::ReplayGuard;
use crate::common::stats::{self, ObjectCounters};
use crate::gateway::delivery::{Delivered, Delivery, DeliveryItem};
use crate::gateway::dispatch::{ack_frames, AckHandle, Action};
use crate::gateway::events::Receipt;
use crate::gateway::index::{SocketIndex, Transitions};
use crate::gateway::join::{Join, JoinStep};
use crate::gateway::names;
use crate::gateway::presence::PresenceBatch;
use crate::gateway::sends::{PendingSend, SendBatcher, BATCH_BODY_MARGIN, SEND_BATCHES_IN_FLIGHT};
use crate::gateway::session::SessionState;
use crate::gateway::typing::{Typing, TypingStep};
use crate::protocol::engineio::PING_FRAME;
use crate::protocol::heartbeat::{PingRounds, SocketCheck};
use crate::room::api::Subscription;
use crate::runtime::config::EdgeConfig;
use crate::runtime::core_client::{self, CoreError};
use crate::runtime::{auth, http, objects};

mod calls;
mod presence;
mod sends;

use calls::PendingCall;

#[wasm_bindgen]
extern "C" {
    /// The runtime's DurableObjectState, for the call workers-rs does not wrap.
    type RawState;
    #[wasm_bindgen(method, catch, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(this: &RawState, ws: &JsValue) -> Result<JsValue, JsValue>;

    /// A WebSocket, to send a frame already made a JS string: one event's
    /// frame is converted once, not once per socket.
    type RawSocket;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_value(this: &RawSocket, data: &JsValue) -> Result<(), JsValue>;
}

/// A socket's session from its attachment, kept as JSON text: one crossing
/// into JS each way (an attachment written and read field by field through
/// `serde_wasm_bindgen` took a tenth of the object's CPU under load).
fn read_session(ws: &WebSocket) -> worker::Result<Option<SessionState>> {
    let Some(text) = ws.deserialize_attachment::<String>()? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| worker::Error::RustError(format!("session attachment unreadable: {e}")))
}

fn write_session(ws: &WebSocket, session: &SessionState) -> worker::Result<()> {
    let text = serde_json::to_string(session)?;
    ws.serialize_attachment(&text)
}

fn send_js(ws: &WebSocket, frame: &JsValue) -> bool {
    let socket: &JsValue = ws.as_ref().as_ref();
    let raw: &RawSocket = socket.unchecked_ref();
    raw.send_value(frame).is_ok()
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
    /// Session id → socket, rebuilt with the index (a tag lookup per frame
    /// cost more than the frame).
    sockets: RefCell<FxHashMap<String, WebSocket>>,
    /// Socket sends on their way to core, batched across sockets.
    sends: RefCell<SendBatcher<PendingSend>>,
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
            sockets: RefCell::new(FxHashMap::default()),
            sends: RefCell::new(SendBatcher::new(
                SEND_BATCHES_IN_FLIGHT,
                MAX_BATCHED_SENDS,
                MAX_BODY_BYTES - BATCH_BODY_MARGIN,
            )),
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
                let delivery: Delivery = http::request_json(&mut req).await?;
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
        let Some(mut session) = read_session(&ws)? else {
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
            let Some(session) = read_session(ws)? else {
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
    fn config(&self) -> worker::Result<std::rc::Rc<EdgeConfig>> {
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
            let mut states: Vec<SessionState> = Vec::new();
            let mut sockets = self.inner.sockets.borrow_mut();
            sockets.clear();
            for ws in self.state.get_websockets() {
                if let Ok(Some(state)) = read_session(&ws) {
                    sockets.insert(state.session_id.clone(), ws);
                    states.push(state);
                }
            }
            if self.inner.name.borrow().is_none() {
                *self.inner.name.borrow_mut() = states
                    .iter()
                    .find_map(|s| names::gateway_of_session(&s.session_id))
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
        write_session(ws, session)?;
        Ok(index.upsert(&session.session_id, session))
    }

    /// Re-reads the attachment after an await, applies `change`, stores it.
    fn update<T>(
        &self,
        ws: &WebSocket,
        change: impl FnOnce(&mut SessionState) -> T,
    ) -> worker::Result<Option<(T, Transitions)>> {
        let Some(mut session) = read_session(ws)? else {
            return Ok(None);
        };
        let out = change(&mut session);
        let transitions = self.store(ws, &session)?;
        Ok(Some((out, transitions)))
    }

    fn socket(&self, session_id: &str) -> Option<WebSocket> {
        drop(self.index()); // the map is rebuilt with it after a wake-up
        if let Some(ws) = self.inner.sockets.borrow().get(session_id) {
            return Some(ws.clone());
        }
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
        let session_id = names::session_id(&gateway, &nonce);
        let now = now_ms();
        let (session, opened) =
            SessionState::open(&session_id, query("token"), config.heartbeat(), now);
        let pair = WebSocketPair::new()?;
        self.state
            .accept_websocket_with_tags(&pair.server, &[session_id.as_str()]);
        self.store(&pair.server, &session)?;
        self.inner
            .sockets
            .borrow_mut()
            .insert(session_id.clone(), pair.server.clone());
        pair.server.send_with_str(&opened.frame)?;
        if !self.inner.alarm_armed.get() {
            if self.state.storage().get_alarm().await?.is_none() {
                let at =
                    crate::protocol::heartbeat::PingRounds::next_round_at(config.heartbeat(), now);
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
            // the frames of one item are mostly the same one: convert it once
            {
                let mut last: Option<(*const u8, JsValue)> = None;
                let sockets = self.inner.sockets.borrow();
                for (sid, frame) in &plan.sends {
                    // borrowed, not cloned: a clone and its drop are two calls into JS
                    let Some(ws) = sockets.get(sid) else {
                        continue;
                    };
                    let js = match &last {
                        Some((at, js)) if *at == frame.as_ptr() => js,
                        _ => &last.insert((frame.as_ptr(), JsValue::from_str(frame))).1,
                    };
                    if send_js(ws, js) {
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
        self.send_to(session_id, &ack_frames(ack, response));
    }

    /// Frames for a socket that may have closed meanwhile.
    fn send_to(&self, session_id: &str, frames: &[String]) {
        if let Some(ws) = self.socket(session_id) {
            self.send(&ws, frames);
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
            } => self.queue_send(session_id, ack, user_id, payload).await,
            Action::Typing {
                ack,
                user_id,
                conversation_id,
                typing,
            } => {
                let frames = self.typing(ack, &user_id, conversation_id, typing).await;
                self.send(ws, &frames);
            }
            Action::MarkReceipt {
                ack,
                user_id,
                receipt,
            } => {
                let response = self.receipt(&user_id, &receipt).await?;
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

    /// Runs a `join_conversation` (`gateway::join`: ask core, join here,
    /// subscribe, ask again, take it back on a refusal).
    async fn join(
        &self,
        ws: &WebSocket,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
    ) -> worker::Result<()> {
        let (mut join, mut step) = Join::start(ack, conversation_id);
        let mut transitions = Transitions::default();
        loop {
            step = match step {
                JoinStep::AskCore => {
                    let answer = self.membership(user_id, &join.membership_path()).await?;
                    join.on_membership(answer)
                }
                JoinStep::JoinHere => {
                    let joined =
                        self.update(ws, |s| s.on_join_confirmed(join.ack(), conversation_id))?;
                    join.on_joined(joined.and_then(|(frames, t)| {
                        transitions = t;
                        frames
                    }))
                }
                JoinStep::Subscribe => {
                    join.on_subscribed(self.apply(std::mem::take(&mut transitions)).await)
                }
                JoinStep::Leave => {
                    if let Some((_, t)) = self.update(ws, |s| s.on_evicted(conversation_id))? {
                        self.apply(t).await;
                    }
                    join.on_left()
                }
                JoinStep::Reply(frames) => {
                    self.send(ws, &frames);
                    return Ok(());
                }
                JoinStep::Stop => return Ok(()),
            };
        }
    }

    /// Core's answer about the user's membership, or its error as an ack.
    async fn membership(
        &self,
        user_id: &str,
        path: &str,
    ) -> worker::Result<Result<Membership, Ack>> {
        let config = self.config()?;
        let answer = core_client::call::<(), _>(&config, Method::Get, path, user_id, None).await;
        Ok(answer.map_err(CoreError::ack))
    }

    /// Runs a typing change (`gateway::typing`): this gateway's sockets
    /// first, then the Room relays it to the other gateways; no call to core.
    async fn typing(
        &self,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
        typing: bool,
    ) -> Vec<String> {
        let (mut typing, mut step) =
            Typing::start(ack, &self.name(), user_id, conversation_id, typing);
        let local = typing.local();
        let plan = self.index().plan(&local);
        for (sid, frame) in &plan.sends {
            if let Some(ws) = self.socket(sid) {
                let _ = ws.send_with_str(frame);
            }
        }
        let timeout = self.config().map(|c| c.object_timeout_ms).unwrap_or(5_000);
        loop {
            step = match step {
                TypingStep::Relay => {
                    let answer = match objects::room(&self.inner.env, &conversation_id) {
                        Ok(stub) => http::post_json(&stub, "/relay", typing.relay(), timeout).await,
                        Err(e) => Err(e),
                    };
                    typing.on_relayed(answer.ok().map(|r| r.status_code()))
                }
                TypingStep::SubscribeAgain => {
                    self.subscription(conversation_id, true).await;
                    typing.on_subscribed()
                }
                TypingStep::Reply(frames) => return frames,
            };
        }
    }

    async fn receipt(&self, user_id: &str, receipt: &Receipt) -> worker::Result<Ack> {
        let config = self.config()?;
        let body = receipt.body();
        let result: Result<serde_json::Value, _> =
            core_client::call(&config, Method::Post, receipt.path(), user_id, Some(&body)).await;
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
            self.inner.sockets.borrow_mut().remove(&session_id);
            self.inner.sends.borrow_mut().discard(&session_id);
            self.inner.calls.borrow_mut().discard(&session_id);
            self.apply(t).await;
        }
        Ok(())
    }
}
