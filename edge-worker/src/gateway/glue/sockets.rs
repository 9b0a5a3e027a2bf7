//! The gateway's sockets: each one's session in its attachment (or, for a
//! polling session, in memory), the indexes rebuilt from the attachments
//! when the object wakes, lookups by session id, and writing frames.

use std::cell::{RefCell, RefMut};
use std::rc::Rc;
use std::task::Waker;

use shared_types::socket::Ack;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::WebSocket;

use super::{now_ms, Gateway};
use crate::gateway::dispatch::{ack_frames, AckHandle};
use crate::gateway::index::{SocketIndex, Transitions};
use crate::gateway::names;
use crate::gateway::polling::PollSession;
use crate::gateway::session::SessionState;
use crate::runtime::config::EdgeConfig;

#[wasm_bindgen]
extern "C" {
    /// The runtime's DurableObjectState, for the call workers-rs does not wrap.
    pub(super) type RawState;
    #[wasm_bindgen(method, catch, js_name = getWebSocketAutoResponseTimestamp)]
    fn auto_response_timestamp(this: &RawState, ws: &JsValue) -> Result<JsValue, JsValue>;

    /// A WebSocket, to send a frame already made a JS string: one event's
    /// frame is converted once, not once per socket.
    type RawSocket;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_value(this: &RawSocket, data: &JsValue) -> Result<(), JsValue>;
}

/// A polling session (`gateway::polling`) and the GET it may be holding.
pub(super) struct PollSlot {
    pub(super) poll: RefCell<PollSession>,
    /// Wakes the held GET.
    pub(super) waker: RefCell<Option<Waker>>,
    /// Set at the upgrade: from then on the session is this WebSocket's,
    /// and work that started over polling (a CONNECT being verified) lands there.
    pub(super) upgraded_to: RefCell<Option<WebSocket>>,
}

impl PollSlot {
    pub(super) fn new(poll: PollSession) -> Rc<Self> {
        Rc::new(Self {
            poll: RefCell::new(poll),
            waker: RefCell::new(None),
            upgraded_to: RefCell::new(None),
        })
    }

    pub(super) fn wake(&self) {
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

/// One Engine.IO session: a WebSocket, or a polling session until it
/// upgrades, or a socket parked for connection-state recovery (gone, its
/// state in memory until the window ends: `gateway::recovery`).
#[derive(Clone)]
pub(super) enum Conn {
    Ws(WebSocket),
    Poll(Rc<PollSlot>),
    Parked(Rc<RefCell<SessionState>>),
}

impl Conn {
    /// `f` on the WebSocket this session is on now, if it is on one.
    fn on_ws<R>(&self, f: impl FnOnce(&WebSocket) -> R) -> Option<R> {
        match self {
            Conn::Ws(ws) => Some(f(ws)),
            Conn::Poll(slot) => slot.upgraded_to.borrow().as_ref().map(f),
            Conn::Parked(_) => None,
        }
    }

    /// Writes one frame; whether it was written (or queued for the next GET).
    /// A polling session over its buffer cap is closed (its held GET gets
    /// the close packet and its GET handler unregisters it).
    pub(super) fn send_frame(&self, frame: &str) -> bool {
        if let Some(sent) = self.on_ws(|ws| ws.send_with_str(frame).is_ok()) {
            return sent;
        }
        let Conn::Poll(slot) = self else {
            return false;
        };
        let queued = slot.poll.borrow_mut().push(frame);
        if !queued {
            slot.poll.borrow_mut().close();
        }
        slot.wake();
        queued
    }

    pub(super) fn close(&self, code: u16, reason: &str) {
        if self
            .on_ws(|ws| drop(ws.close(Some(code), Some(reason))))
            .is_some()
        {
            return;
        }
        if let Conn::Poll(slot) = self {
            slot.poll.borrow_mut().close();
            slot.wake();
        }
    }
}

/// A session's state: a WebSocket's attachment, a polling session's memory.
pub(super) fn read_session(conn: &Conn) -> worker::Result<Option<SessionState>> {
    if let Some(read) = conn.on_ws(read_attachment) {
        return read;
    }
    match conn {
        Conn::Poll(slot) => Ok(Some(slot.poll.borrow().state.clone())),
        Conn::Parked(state) => Ok(Some(state.borrow().clone())),
        Conn::Ws(_) => Ok(None),
    }
}

fn write_session(conn: &Conn, session: &SessionState) -> worker::Result<()> {
    if let Some(written) = conn.on_ws(|ws| write_attachment(ws, session)) {
        return written;
    }
    match conn {
        Conn::Poll(slot) => slot.poll.borrow_mut().state = session.clone(),
        Conn::Parked(state) => *state.borrow_mut() = session.clone(),
        Conn::Ws(_) => {}
    }
    Ok(())
}

/// A socket's session from its attachment, kept as JSON text: one crossing
/// into JS each way (an attachment written and read field by field through
/// `serde_wasm_bindgen` took a tenth of the object's CPU under load).
pub(super) fn read_attachment(ws: &WebSocket) -> worker::Result<Option<SessionState>> {
    let Some(text) = ws.deserialize_attachment::<String>()? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| worker::Error::RustError(format!("session attachment unreadable: {e}")))
}

pub(super) fn write_attachment(ws: &WebSocket, session: &SessionState) -> worker::Result<()> {
    let text = serde_json::to_string(session)?;
    ws.serialize_attachment(&text)
}

/// Writes a frame already converted to a JS string (`frame` as Rust text
/// for a polling session); whether it was written.
pub(super) fn send_js(conn: &Conn, js: &JsValue, frame: &str) -> bool {
    let ws = match conn {
        Conn::Ws(ws) => ws,
        Conn::Poll(_) | Conn::Parked(_) => return conn.send_frame(frame),
    };
    let socket: &JsValue = ws.as_ref().as_ref();
    let raw: &RawSocket = socket.unchecked_ref();
    raw.send_value(js).is_ok()
}

impl Gateway {
    /// When the runtime last answered this socket's pong, if it did.
    pub(super) fn last_pong_at(&self, ws: &WebSocket) -> Option<u64> {
        let raw: &RawState = self.raw_state.unchecked_ref();
        let socket: &JsValue = ws.as_ref().as_ref();
        let stamp = raw.auto_response_timestamp(socket).ok()?;
        let date: &js_sys::Date = stamp.dyn_ref()?;
        Some(date.get_time() as u64)
    }

    /// The indexes, rebuilt from the attachments when the object just woke.
    pub(super) fn index(&self) -> RefMut<'_, SocketIndex> {
        let mut slot = self.inner.index.borrow_mut();
        if slot.is_none() {
            let mut states: Vec<SessionState> = Vec::new();
            let mut sockets = self.inner.sockets.borrow_mut();
            sockets.clear();
            for ws in self.state.get_websockets() {
                // a WebSocket probing a polling session is not a session yet
                if let Ok(Some(state)) = read_attachment(&ws).map(|s| s.filter(|s| !s.probing)) {
                    sockets.insert(state.session_id.clone(), Conn::Ws(ws));
                    states.push(state);
                }
            }
            for (sid, slot) in self.inner.polls.borrow().iter() {
                sockets.insert(sid.clone(), Conn::Poll(slot.clone()));
                states.push(slot.poll.borrow().state.clone());
            }
            for (sid, state) in self.inner.parked.borrow().iter() {
                sockets.insert(sid.clone(), Conn::Parked(state.clone()));
                states.push(state.borrow().clone());
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

    pub(super) fn name(&self) -> String {
        if self.inner.name.borrow().is_none() {
            drop(self.index());
        }
        self.inner.name.borrow().clone().unwrap_or_default()
    }

    /// Writes a socket's attachment and updates the indexes from it. The
    /// indexes are built first: a gateway that just woke must read the old
    /// attachment, or the change would report no transition.
    pub(super) fn store(&self, conn: &Conn, session: &SessionState) -> worker::Result<Transitions> {
        let mut index = self.index();
        write_session(conn, session)?;
        Ok(index.upsert(&session.session_id, session))
    }

    /// Re-reads the attachment after an await, applies `change`, stores it.
    pub(super) fn update<T>(
        &self,
        conn: &Conn,
        change: impl FnOnce(&mut SessionState) -> T,
    ) -> worker::Result<Option<(T, Transitions)>> {
        let Some(mut session) = read_session(conn)? else {
            return Ok(None);
        };
        let out = change(&mut session);
        let transitions = self.store(conn, &session)?;
        Ok(Some((out, transitions)))
    }

    pub(super) fn socket(&self, session_id: &str) -> Option<Conn> {
        drop(self.index()); // the map is rebuilt with it after a wake-up
        if let Some(conn) = self.inner.sockets.borrow().get(session_id) {
            return Some(conn.clone());
        }
        self.state
            .get_websockets_with_tag(session_id)
            .into_iter()
            .next()
            .map(Conn::Ws)
    }

    pub(super) fn send(&self, conn: &Conn, frames: &[String]) {
        for frame in frames {
            conn.send_frame(frame);
        }
    }

    pub(super) fn ack(&self, session_id: &str, ack: Option<&AckHandle>, response: &Ack) {
        self.send_to(session_id, &ack_frames(ack, response));
    }

    /// Frames for a socket that may have closed meanwhile.
    pub(super) fn send_to(&self, session_id: &str, frames: &[String]) {
        if let Some(conn) = self.socket(session_id) {
            self.send(&conn, frames);
        }
    }
}

/// A new session's name and the times its connect deadline counts from.
pub(super) struct NewSession {
    pub(super) session_id: String,
    pub(super) now: u64,
    pub(super) connect_deadline: u64,
}

pub(super) fn query_param(url: &worker::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Gateway {
    /// Names a new session (WebSocket or polling) on this gateway, or `None`
    /// when the gateway is full.
    pub(super) fn new_session(&self, gateway: &str, config: &EdgeConfig) -> Option<NewSession> {
        if self.session_count() >= config.gateway_max_sockets {
            return None;
        }
        *self.inner.name.borrow_mut() = Some(gateway.to_string());
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let now = now_ms();
        Some(NewSession {
            session_id: names::session_id(gateway, &nonce),
            now,
            connect_deadline: now.saturating_add(config.connect_timeout_ms),
        })
    }
}
