//! Gateway: a Durable Object holding many WebSockets near their clients,
//! with the hibernation API. Each socket's state is its attachment
//! (`SessionState`) and its protocol runs through `gateway::dispatch`; the
//! indexes (`gateway::index`) are rebuilt from the attachments when the
//! object wakes. One alarm pings every socket; pongs are answered by the
//! runtime's auto-response and never run this code. Each file here runs the
//! plain module of its name; this one holds the object's handlers.

mod calls;
mod delivery;
mod frames;
mod heartbeat;
mod join;
mod polling;
mod presence;
mod recovery;
mod sends;
mod sockets;
mod subscriptions;
mod token_life;
mod typing;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rustc_hash::FxHashMap;
use shared_types::internal::MAX_BATCHED_SENDS;
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::socket::Ack;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

use crate::common::queues::OrderedQueues;
use crate::common::replay_guard::ReplayGuard;
use crate::common::stats::{ActiveClock, ObjectCounters};
use crate::gateway::calls::PendingCall;
use crate::gateway::delivery::Delivery;
use crate::gateway::dispatch::{ack_frames, Action};
use crate::gateway::events::Receipt;
use crate::gateway::index::SocketIndex;
use crate::gateway::join::RecentEvictions;
use crate::gateway::local_members::LocalMembers;
use crate::gateway::presence::PresenceBatch;
use crate::gateway::recovery::Recovery;
use crate::gateway::sends::{PendingSend, SendBatcher, BATCH_BODY_MARGIN, SEND_BATCHES_IN_FLIGHT};
use crate::gateway::session::SessionState;
use crate::gateway::subscriptions::Subscriptions;
use crate::protocol::heartbeat::PingRounds;
use crate::runtime::config::EdgeConfig;
use crate::runtime::core_client;
use crate::runtime::{http, objects};
use sockets::{query_param, read_attachment, Conn, NewSession, PollSlot};

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
    sockets: RefCell<FxHashMap<String, Conn>>,
    /// Polling sessions not upgraded (yet), in memory only (`gateway::polling`).
    polls: RefCell<FxHashMap<String, Rc<PollSlot>>>,
    /// Sockets parked for connection-state recovery, and their offsets (`gateway::recovery`).
    parked: RefCell<FxHashMap<String, Rc<RefCell<SessionState>>>>,
    recovery: RefCell<Recovery>,
    /// Socket sends on their way to core, batched across sockets.
    sends: RefCell<SendBatcher<PendingSend>>,
    /// A socket's `/calls` requests to core, one at a time in its order.
    calls: RefCell<OrderedQueues<PendingCall>>,
    presence: RefCell<PresenceBatch>,
    rounds: RefCell<PingRounds>,
    counters: RefCell<ObjectCounters>,
    active: Rc<RefCell<ActiveClock>>,
    replays: RefCell<ReplayGuard>,
    /// Numbers the subscription changes sent to Rooms.
    subscriptions: RefCell<Subscriptions>,
    /// Evictions delivered lately, which a join in progress checks.
    evictions: RefCell<RecentEvictions>,
    /// Which users here are members of conversations that notify (memory only).
    local_members: RefCell<LocalMembers>,
    alarm_armed: Cell<bool>,
    /// When the armed alarm fires (unix ms), while `alarm_armed`.
    alarm_at: Cell<u64>,
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
        let recovery = EdgeConfig::from_env(&env).map(|c| c.recovery);
        let recovery = Recovery::new(&counters.instance[..8], recovery.unwrap_or_default());
        let inner = Rc::new(Inner {
            env,
            parked: RefCell::new(FxHashMap::default()),
            recovery: RefCell::new(recovery),
            name: RefCell::new(None),
            index: RefCell::new(None),
            sockets: RefCell::new(FxHashMap::default()),
            polls: RefCell::new(FxHashMap::default()),
            sends: RefCell::new(SendBatcher::new(
                SEND_BATCHES_IN_FLIGHT,
                MAX_BATCHED_SENDS,
                MAX_BODY_BYTES - BATCH_BODY_MARGIN,
            )),
            calls: RefCell::new(OrderedQueues::new()),
            presence: RefCell::new(PresenceBatch::default()),
            rounds: RefCell::new(PingRounds::default()),
            counters: RefCell::new(counters),
            active: Rc::default(),
            replays: RefCell::new(ReplayGuard::default()),
            subscriptions: RefCell::new(Subscriptions::new(now_ms())),
            evictions: RefCell::new(RecentEvictions::default()),
            local_members: RefCell::new(LocalMembers::default()),
            alarm_armed: Cell::new(false),
            alarm_at: Cell::new(0),
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
            counters.sockets = self.session_count() as u64;
            counters.active_ms = self.inner.active.borrow().total_ms(now_ms());
            return Response::from_json(&counters);
        }
        let _active = objects::Active::enter(&self.inner.active);
        self.inner.counters.borrow_mut().requests += 1;
        match path.as_str() {
            "/connect" => self.accept_upgrade(&req).await,
            "/poll/open" => self.open_poll(&req).await,
            "/poll" => self.poll(req).await,
            "/recover" => self.recover_for(http::request_json(&mut req).await?).await,
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
        let _active = objects::Active::enter(&self.inner.active);
        self.inner.counters.borrow_mut().ws_messages += 1;
        let Some(mut session) = read_attachment(&ws)? else {
            let _ = ws.close(Some(1011), Some("session state lost"));
            return Ok(());
        };
        if session.probing {
            return self
                .on_probe_message(&ws, &session.session_id, message)
                .await;
        }
        let ws = Conn::Ws(ws);
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
        let _active = objects::Active::enter(&self.inner.active);
        self.close_or_park(&Conn::Ws(ws), 1000, "closed").await
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        let _active = objects::Active::enter(&self.inner.active);
        self.close_or_park(&Conn::Ws(ws), 1011, "socket error")
            .await
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let _active = objects::Active::enter(&self.inner.active);
        self.ping_round().await
    }
}

impl Gateway {
    fn config(&self) -> worker::Result<std::rc::Rc<EdgeConfig>> {
        EdgeConfig::from_env(&self.inner.env).map_err(|e| {
            worker::console_error!("{e}");
            worker::Error::RustError("edge misconfigured".into())
        })
    }

    async fn set_alarm(&self, at_ms: u64, now: u64) -> worker::Result<()> {
        self.inner.counters.borrow_mut().storage_writes += 1;
        self.state
            .storage()
            .set_alarm(objects::offset_ms(at_ms, now))
            .await?;
        self.inner.alarm_armed.set(true);
        self.inner.alarm_at.set(at_ms);
        Ok(())
    }

    /// The WebSocket upgrade, forwarded by the Worker with this gateway's name.
    async fn accept_upgrade(&self, req: &Request) -> worker::Result<Response> {
        let config = self.config()?;
        let url = req.url()?;
        let Some(gateway) = query_param(&url, "gw") else {
            return Response::error("missing gw", 400);
        };
        if let Some(sid) = query_param(&url, "sid") {
            return self.accept_probe(&sid);
        }
        let Some(NewSession {
            session_id,
            now,
            connect_deadline,
        }) = self.new_session(&gateway, &config)
        else {
            return Response::error("gateway full", 503);
        };
        let (mut session, opened) = SessionState::open(
            &session_id,
            query_param(&url, "token"),
            config.heartbeat(),
            now,
        );
        session.connect_deadline_ms = Some(connect_deadline);
        let pair = WebSocketPair::new()?;
        self.state
            .accept_websocket_with_tags(&pair.server, &[session_id.as_str()]);
        let conn = Conn::Ws(pair.server.clone());
        self.store(&conn, &session)?;
        self.inner.sockets.borrow_mut().insert(session_id, conn);
        pair.server.send_with_str(&opened.frame)?;
        self.arm_by(connect_deadline, now).await?;
        Response::from_websocket(pair.client)
    }

    /// Sockets and polling sessions held, against `GATEWAY_MAX_SOCKETS`.
    fn session_count(&self) -> usize {
        self.state.get_websockets().len() + self.inner.polls.borrow().len()
    }

    async fn perform(&self, ws: &Conn, session_id: &str, action: Action) -> worker::Result<()> {
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
            Action::Authenticate {
                nsp,
                token,
                resume,
                no_recovery,
            } => (self.authenticate(ws, &nsp, &token, resume, no_recovery)).await?,
            Action::RefreshToken { ack, token } => self.refresh_token(ws, ack, &token).await?,
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
    async fn shut(&self, ws: &Conn, code: u16, reason: &str) -> worker::Result<()> {
        if let Conn::Ws(socket) = ws {
            if let Some(probe) = read_attachment(socket)?.filter(|s| s.probing) {
                self.end_probe(socket, &probe.session_id, code, reason);
                return Ok(());
            }
        }
        let closed = self.update(ws, |s| {
            s.on_close();
            s.session_id.clone()
        })?;
        ws.close(code, reason);
        if let Some((session_id, t)) = closed {
            self.inner.polls.borrow_mut().remove(&session_id);
            self.inner.sockets.borrow_mut().remove(&session_id);
            self.inner.sends.borrow_mut().discard(&session_id);
            self.inner.calls.borrow_mut().discard(&session_id);
            self.inner.parked.borrow_mut().remove(&session_id);
            self.inner.recovery.borrow_mut().forget(&session_id);
            self.apply(t).await;
        }
        Ok(())
    }
}
