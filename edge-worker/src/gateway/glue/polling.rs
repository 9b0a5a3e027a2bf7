//! Runs `gateway::polling`: the handshake GET, the held GETs and the POSTs
//! of a polling session, and the WebSocket that probes it and takes it over
//! at `5`. A POST's packets go through the same `dispatch` and `perform` as
//! a WebSocket's frames, so a CONNECT made over polling is the same CONNECT.

use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{poll_fn, select};
use worker::{
    Delay, Headers, Method, Request, Response, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use super::sockets::{query_param, NewSession};
use super::sockets::{write_attachment, Conn, PollSlot};
use super::{now_ms, Gateway};
use crate::front_door::{HandshakeRefusal, BAD_REQUEST, UNKNOWN_SID};
use crate::gateway::polling::{self, GetVerdict, PollSession, ProbeStep};
use crate::gateway::session::SessionState;
use crate::protocol::error::close_code;
use crate::protocol::polling::decode_payload;

/// Engine.IO's error answer (HTTP 400, `{code, message}`).
fn engine_error(refusal: HandshakeRefusal) -> worker::Result<Response> {
    let body = serde_json::json!({ "code": refusal.code, "message": refusal.message });
    Ok(Response::from_json(&body)?.with_status(400))
}

fn unknown_sid() -> worker::Result<Response> {
    engine_error(UNKNOWN_SID)
}

/// A polling answer: a payload (`text/plain`), or a POST's `ok` (`text/html`,
/// as the reference server sends it), never cached.
fn text(body: String, content_type: &str) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", content_type)?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// Frees the session's GET slot if the held GET is dropped before it answers.
struct HeldGet<'a>(&'a PollSlot, bool);

impl Drop for HeldGet<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.poll.borrow_mut().on_get_dropped();
        }
    }
}

impl Gateway {
    /// The handshake GET: a new session, counted against `GATEWAY_MAX_SOCKETS`.
    pub(super) async fn open_poll(&self, req: &Request) -> worker::Result<Response> {
        let config = self.config()?;
        let url = req.url()?;
        let Some(gateway) = query_param(&url, "gw") else {
            return Response::error("missing gw", 400);
        };
        let Some(NewSession {
            session_id,
            now,
            connect_deadline,
        }) = self.new_session(&gateway, &config)
        else {
            return Response::error("gateway full", 503);
        };
        let mut session = SessionState::new(&session_id, query_param(&url, "token"), now);
        session.connect_deadline_ms = Some(connect_deadline);
        let slot = PollSlot::new(PollSession::new(session.clone()));
        let conn = Conn::Poll(slot.clone());
        self.store(&conn, &session)?;
        self.inner
            .polls
            .borrow_mut()
            .insert(session_id.clone(), slot);
        self.inner
            .sockets
            .borrow_mut()
            .insert(session_id.clone(), conn);
        self.arm_by(connect_deadline, now).await?;
        let open = polling::open_frame(&session_id, config.heartbeat());
        text(open, "text/plain; charset=UTF-8")
    }

    /// A GET or POST of a polling session.
    pub(super) async fn poll(&self, mut req: Request) -> worker::Result<Response> {
        let sid = req
            .url()?
            .query_pairs()
            .find(|(k, _)| k == "sid")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let slot = self.inner.polls.borrow().get(&sid).cloned();
        let Some(slot) = slot else {
            // a session that upgraded is the WebSocket's now: the reference
            // server's answer to a request on its old transport
            if self.inner.sockets.borrow().contains_key(&sid) {
                return engine_error(BAD_REQUEST);
            }
            return unknown_sid();
        };
        if slot.poll.borrow().is_closed() {
            // closed with no GET held to tell (its buffer overflowed): gone now
            self.shut(&Conn::Poll(slot), close_code::NORMAL, "closed")
                .await?;
            return unknown_sid();
        }
        match req.method() {
            Method::Get => self.poll_get(&sid, slot).await,
            Method::Post => {
                let body = req.text().await?;
                self.poll_post(&sid, slot, &body).await
            }
            _ => engine_error(BAD_REQUEST),
        }
    }

    async fn poll_get(&self, sid: &str, slot: Rc<PollSlot>) -> worker::Result<Response> {
        let verdict = slot.poll.borrow_mut().on_get();
        let body = match verdict {
            GetVerdict::Answer(body) => body,
            GetVerdict::Overlap => {
                // the reference server: "overlap from client", the session ends
                self.shut(&Conn::Poll(slot), close_code::PROTOCOL_ERROR, "overlap")
                    .await?;
                return engine_error(BAD_REQUEST);
            }
            GetVerdict::Hold => {
                let hold = self.config()?.polling_hold_ms;
                let mut held = HeldGet(&slot, false);
                let woken = pin!(poll_fn(|cx| {
                    if slot.poll.borrow().ready() {
                        Poll::Ready(())
                    } else {
                        *slot.waker.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }));
                let hold_ended = pin!(Delay::from(Duration::from_millis(hold)));
                select(woken, hold_ended).await;
                slot.waker.borrow_mut().take();
                held.1 = true;
                // woken or not, the hold is over: what waits, or a noop
                slot.poll.borrow_mut().on_wake(true).unwrap_or_default()
            }
        };
        // closed (by the client, a timeout or a full buffer): unregister it now
        if slot.poll.borrow().is_closed() && self.inner.polls.borrow().contains_key(sid) {
            self.shut(&Conn::Poll(slot), close_code::NORMAL, "closed")
                .await?;
        }
        text(body, "text/plain; charset=UTF-8")
    }

    async fn poll_post(
        &self,
        sid: &str,
        slot: Rc<PollSlot>,
        body: &str,
    ) -> worker::Result<Response> {
        // the Worker refused a larger declared length before reading; this
        // covers a body sent without one
        if body.len() > crate::front_door::POLLING_MAX_BODY_BYTES {
            return Response::error("payload too large", 413);
        }
        let conn = Conn::Poll(slot.clone());
        let started = slot.poll.borrow_mut().on_post_start();
        let packets = match started.and_then(|()| decode_payload(body)) {
            Ok(packets) => packets,
            Err(e) => {
                worker::console_log!("closing polling session: {e}");
                self.shut(&conn, e.close_code(), e.close_reason()).await?;
                return engine_error(BAD_REQUEST);
            }
        };
        for packet in &packets {
            let action = slot.poll.borrow_mut().on_packet(packet, now_ms());
            let state = slot.poll.borrow().state.clone();
            let transitions = self.store(&conn, &state)?;
            self.apply(transitions).await;
            self.perform(&conn, sid, action).await?;
            if slot.poll.borrow().is_closed() {
                break;
            }
        }
        slot.poll.borrow_mut().on_post_end();
        text("ok".to_owned(), "text/html")
    }

    /// The WebSocket that came to upgrade the polling session `sid`.
    pub(super) fn accept_probe(&self, sid: &str) -> worker::Result<Response> {
        let slot = self.inner.polls.borrow().get(sid).cloned();
        let Some(slot) = slot else {
            if self.inner.sockets.borrow().contains_key(sid) {
                return engine_error(BAD_REQUEST);
            }
            return unknown_sid();
        };
        if !slot.poll.borrow().may_probe() {
            return engine_error(BAD_REQUEST);
        }
        let mut probe = slot.poll.borrow().state.clone();
        probe.probing = true;
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[sid]);
        write_attachment(&pair.server, &probe)?;
        Response::from_websocket(pair.client)
    }

    /// A frame on a probing WebSocket: `2probe`, then `5`.
    pub(super) async fn on_probe_message(
        &self,
        ws: &WebSocket,
        sid: &str,
        message: WebSocketIncomingMessage,
    ) -> worker::Result<()> {
        let slot = self.inner.polls.borrow().get(sid).cloned();
        let (Some(slot), WebSocketIncomingMessage::String(frame)) = (slot, message) else {
            self.end_probe(ws, sid, close_code::PROTOCOL_ERROR, "upgrade refused");
            return Ok(());
        };
        let now = now_ms();
        let step = slot.poll.borrow_mut().on_probe_frame(&frame, now);
        match step {
            ProbeStep::Probed(pong) => {
                ws.send_with_str(&pong)?;
                slot.wake();
            }
            ProbeStep::Upgraded(waiting) => {
                let mut state = slot.poll.borrow().state.clone();
                state.probing = false;
                // pings sent over polling were answered there
                state.opened_at_ms = now;
                *slot.upgraded_to.borrow_mut() = Some(ws.clone());
                self.inner.polls.borrow_mut().remove(sid);
                let conn = Conn::Ws(ws.clone());
                self.inner
                    .sockets
                    .borrow_mut()
                    .insert(sid.to_owned(), conn.clone());
                let transitions = self.store(&conn, &state)?;
                self.apply(transitions).await;
                self.send(&conn, &waiting);
                // the GET still held, if any, gets its noop
                slot.wake();
            }
            ProbeStep::Refuse => {
                self.end_probe(ws, sid, close_code::PROTOCOL_ERROR, "upgrade refused")
            }
        }
        Ok(())
    }

    /// Closes a probing WebSocket; its polling session goes on.
    pub(super) fn end_probe(&self, ws: &WebSocket, sid: &str, code: u16, reason: &str) {
        let _ = ws.close(Some(code), Some(reason));
        if let Some(slot) = self.inner.polls.borrow().get(sid) {
            slot.poll.borrow_mut().on_probe_ended();
        }
    }

    /// The ping round's look at a probing WebSocket: closed when its
    /// session is gone or it did not upgrade in time.
    pub(super) fn check_probe(&self, ws: &WebSocket, sid: &str, now: u64) {
        let stale = match self.inner.polls.borrow().get(sid) {
            Some(slot) => slot.poll.borrow().probe_timed_out(now),
            None => true,
        };
        if stale {
            self.end_probe(ws, sid, close_code::NORMAL, "upgrade timeout");
        }
    }
}
