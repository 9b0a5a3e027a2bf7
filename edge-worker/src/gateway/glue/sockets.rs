//! The gateway's sockets: each one's session in its attachment, the
//! indexes rebuilt from the attachments when the object wakes, lookups by
//! session id, and writing frames.

use std::cell::RefMut;

use shared_types::socket::Ack;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::WebSocket;

use super::Gateway;
use crate::gateway::dispatch::{ack_frames, AckHandle};
use crate::gateway::index::{SocketIndex, Transitions};
use crate::gateway::names;
use crate::gateway::session::SessionState;

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

/// A socket's session from its attachment, kept as JSON text: one crossing
/// into JS each way (an attachment written and read field by field through
/// `serde_wasm_bindgen` took a tenth of the object's CPU under load).
pub(super) fn read_session(ws: &WebSocket) -> worker::Result<Option<SessionState>> {
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

/// Writes a frame already converted to a JS string; whether it was written.
pub(super) fn send_js(ws: &WebSocket, frame: &JsValue) -> bool {
    let socket: &JsValue = ws.as_ref().as_ref();
    let raw: &RawSocket = socket.unchecked_ref();
    raw.send_value(frame).is_ok()
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

    pub(super) fn name(&self) -> String {
        if self.inner.name.borrow().is_none() {
            drop(self.index());
        }
        self.inner.name.borrow().clone().unwrap_or_default()
    }

    /// Writes a socket's attachment and updates the indexes from it. The
    /// indexes are built first: a gateway that just woke must read the old
    /// attachment, or the change would report no transition.
    pub(super) fn store(
        &self,
        ws: &WebSocket,
        session: &SessionState,
    ) -> worker::Result<Transitions> {
        let mut index = self.index();
        write_session(ws, session)?;
        Ok(index.upsert(&session.session_id, session))
    }

    /// Re-reads the attachment after an await, applies `change`, stores it.
    pub(super) fn update<T>(
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

    pub(super) fn socket(&self, session_id: &str) -> Option<WebSocket> {
        drop(self.index()); // the map is rebuilt with it after a wake-up
        if let Some(ws) = self.inner.sockets.borrow().get(session_id) {
            return Some(ws.clone());
        }
        self.state
            .get_websockets_with_tag(session_id)
            .into_iter()
            .next()
    }

    pub(super) fn send(&self, ws: &WebSocket, frames: &[String]) {
        for frame in frames {
            let _ = ws.send_with_str(frame);
        }
    }

    pub(super) fn ack(&self, session_id: &str, ack: Option<&AckHandle>, response: &Ack) {
        self.send_to(session_id, &ack_frames(ack, response));
    }

    /// Frames for a socket that may have closed meanwhile.
    pub(super) fn send_to(&self, session_id: &str, frames: &[String]) {
        if let Some(ws) = self.socket(session_id) {
            self.send(&ws, frames);
        }
    }
}
