//! Runs `gateway::recovery` (stamping frames is `glue::frames`): parking a
//! socket that went without a DISCONNECT,
//! resuming it on a CONNECT with `{pid, offset}` (here, or by asking the
//! gateway that holds it: `/recover`), and ending parked sessions when
//! their window is over.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::Response;

use super::sockets::{read_session, send_js, Conn};
use super::{now_ms, Gateway};
use crate::gateway::dispatch::ResumeAsk;
use crate::gateway::joined::JoinedRooms;
use crate::gateway::names;
use crate::gateway::recovery::{RecoverAnswer, RecoverAsk, Resume, MAX_HOPS};
use crate::runtime::{http, objects};

impl Gateway {
    /// A WebSocket closed or failed without the server closing it: parked
    /// when it has a pid and namespaces it never disconnected, else shut.
    pub(super) async fn close_or_park(
        &self,
        conn: &Conn,
        code: u16,
        reason: &str,
    ) -> worker::Result<()> {
        // a polling session's state moves with its GETs: only WebSockets park
        let session = match conn {
            Conn::Ws(_) => read_session(conn)?.filter(|s| !s.probing && !s.closed),
            _ => None,
        };
        let Some(session) = session else {
            return self.shut(conn, code, reason).await;
        };
        if self.inner.parked.borrow().contains_key(&session.session_id) {
            return Ok(()); // a close after an error: parked already
        }
        let now = now_ms();
        let parked = self.inner.recovery.borrow_mut().park(&session, now);
        let Some(dropped) = parked else {
            return self.shut(conn, code, reason).await;
        };
        let sid = session.session_id.clone();
        let state = Rc::new(RefCell::new(session));
        self.inner
            .parked
            .borrow_mut()
            .insert(sid.clone(), state.clone());
        self.inner.polls.borrow_mut().remove(&sid);
        self.inner
            .sockets
            .borrow_mut()
            .insert(sid.clone(), Conn::Parked(state));
        self.inner.sends.borrow_mut().discard(&sid);
        self.inner.calls.borrow_mut().discard(&sid);
        conn.close(code, reason);
        for sid in dropped {
            self.unpark(&sid, "recovery: too many parked sessions")
                .await?;
        }
        self.keep_awake(now).await
    }

    /// A parked session is over: out of the index (its user may go offline,
    /// its rooms be unsubscribed).
    async fn unpark(&self, sid: &str, reason: &str) -> worker::Result<()> {
        let state = self.inner.parked.borrow_mut().remove(sid);
        if let Some(state) = state {
            self.shut(&Conn::Parked(state), 1000, reason).await?;
        }
        Ok(())
    }

    /// At each alarm: parked sessions past their window end.
    pub(super) async fn expire_parked(&self, now: u64) -> worker::Result<()> {
        let over = self.inner.recovery.borrow_mut().expire(now);
        for sid in over {
            self.unpark(&sid, "recovery window over").await?;
        }
        Ok(())
    }

    /// While sessions are parked, the alarm comes often enough to keep the
    /// object (and its buffer) in memory, and at the first expiry.
    pub(super) async fn keep_awake(&self, now: u64) -> worker::Result<()> {
        let Some(at) = self.inner.recovery.borrow().next_alarm(now) else {
            return Ok(());
        };
        self.arm_no_later_than(at, now).await
    }

    /// The pid this CONNECT answers with, after resuming what `ask` names
    /// when it can: the replayed frames are written after the CONNECT
    /// answer, and the session takes over the parked one's rooms.
    pub(super) async fn connect_recovering(
        &self,
        conn: &Conn,
        nsp: &str,
        user: &str,
        ask: Option<ResumeAsk>,
    ) -> worker::Result<ResumeOutcome> {
        let Some(session) = read_session(conn)? else {
            return Ok(ResumeOutcome::default());
        };
        let sid = session.session_id.clone();
        let own = self.inner.recovery.borrow().pid_of(&sid).map(str::to_owned);
        let ask = ask.filter(|a| own.as_deref().is_none_or(|p| p == a.pid));
        let Some(ask) = ask else {
            return Ok(ResumeOutcome::fresh(self, own, &sid));
        };
        let now = now_ms();
        let here = self.name();
        let here_ask = RecoverAsk {
            pid: ask.pid.clone(),
            user: user.to_owned(),
            namespace: nsp.to_owned(),
            offset: ask.offset.clone(),
            to: here.clone(),
            keep: false,
        };
        let local = self
            .inner
            .recovery
            .borrow_mut()
            .resume(&here_ask, now, false);
        let (frames, joined, done_parked, handover) = match local {
            Resume::Frames(r) => {
                // this namespace leaves the parked socket, before any await
                if let Some(Conn::Parked(state)) = self.socket(&r.parked_session) {
                    let parked = Conn::Parked(state);
                    self.update(&parked, |s| {
                        s.namespaces.remove(nsp);
                    })?;
                }
                let done = r.done.then_some(r.parked_session);
                (Replay::Stamped(r.frames), r.joined, done, None)
            }
            Resume::Moved(to) => match self.look_remote(&to, &ask, user, nsp).await {
                Some((frames, joined, handover)) => (frames, joined, None, handover),
                None => return Ok(ResumeOutcome::fresh(self, own, &sid)),
            },
            Resume::Lost(why) => {
                // only a gateway this edge could have named: a forged pid
                // wakes no other object (as the Worker routes polling sids)
                let max_shards = self.config()?.gateway_max_shards;
                let holder = names::routable_gateway(&ask.pid, max_shards).map(str::to_owned);
                match holder.filter(|g| *g != here) {
                    Some(holder) => match self.look_remote(&holder, &ask, user, nsp).await {
                        Some((frames, joined, handover)) => (frames, joined, None, handover),
                        None => return Ok(ResumeOutcome::fresh(self, own, &sid)),
                    },
                    None => {
                        worker::console_log!("recovery refused: {why}");
                        return Ok(ResumeOutcome::fresh(self, own, &sid));
                    }
                }
            }
        };
        if own.is_none() {
            self.inner.recovery.borrow_mut().track(&sid, &ask.pid);
        }
        Ok(ResumeOutcome {
            pid: Some(ask.pid),
            replay: Some(frames),
            joined,
            done_parked,
            handover,
        })
    }

    /// Asks the gateway holding a parked session (following moves).
    async fn ask_remote(&self, first: &str, body: &RecoverAsk) -> Option<(RecoverAnswer, String)> {
        let timeout = self.config().ok()?.object_timeout_ms;
        let here = body.to.as_str();
        let mut target = first.to_owned();
        for _ in 0..MAX_HOPS {
            if target == here {
                return None;
            }
            let stub = objects::gateway(&self.inner.env, &target).ok()?;
            let answer: RecoverAnswer =
                match http::post_json(&stub, "/recover", body, timeout).await {
                    Ok(mut resp) if resp.status_code() == 200 => {
                        http::response_json(&mut resp).await.ok()?
                    }
                    Ok(resp) => {
                        worker::console_warn!("recover at {target}: {}", resp.status_code());
                        return None;
                    }
                    Err(e) => {
                        worker::console_warn!("recover at {target} failed: {e}");
                        return None;
                    }
                };
            if let Some(to) = answer.moved {
                target = to;
                continue;
            }
            if let Some(why) = answer.lost {
                worker::console_log!("recovery refused by {target}: {why}");
                return None;
            }
            return Some((answer, target));
        }
        None
    }

    /// A first look at another gateway's parked session: its frames, its
    /// rooms, and where the second look (`complete_handover`) starts.
    async fn look_remote(
        &self,
        first: &str,
        ask: &ResumeAsk,
        user: &str,
        nsp: &str,
    ) -> Option<(Replay, Option<JoinedRooms>, Option<Handover>)> {
        let body = RecoverAsk {
            pid: ask.pid.clone(),
            user: user.to_owned(),
            namespace: nsp.to_owned(),
            offset: ask.offset.clone(),
            to: self.name(),
            keep: true,
        };
        let (answer, holder) = self.ask_remote(first, &body).await?;
        let handover = Handover {
            holder,
            body: RecoverAsk {
                offset: answer.through.or(body.offset.clone()),
                keep: false,
                ..body
            },
        };
        Some((Replay::Plain(answer.frames), answer.joined, Some(handover)))
    }

    /// Once this gateway's subscriptions for a session recovered from another
    /// are in place: the other's frames since the first look (the session
    /// leaves it), then what arrived here meanwhile, each event once.
    pub(super) async fn complete_handover(&self, sid: &str, handover: Handover) {
        let answer = self.ask_remote(&handover.holder, &handover.body).await;
        let frames = answer.map(|(a, _)| a.frames).unwrap_or_default();
        let nsp = &handover.body.namespace;
        let held = (self.inner.recovery.borrow_mut()).release(sid, nsp, &frames);
        for frame in frames.iter().chain(held.iter()) {
            self.write_frame(sid, frame);
        }
    }

    /// `/recover` from another gateway: this one's parked session, for it.
    pub(super) async fn recover_for(&self, ask: RecoverAsk) -> worker::Result<Response> {
        let now = now_ms();
        let resume = self.inner.recovery.borrow_mut().resume(&ask, now, true);
        let answer = RecoverAnswer::of(&resume);
        if let (Resume::Frames(r), false) = (&resume, ask.keep) {
            if let Some(conn) = self.socket(&r.parked_session) {
                self.update(&conn, |s| {
                    s.namespaces.remove(&ask.namespace);
                })?;
            }
            if r.done {
                self.unpark(&r.parked_session, "recovered on another gateway")
                    .await?;
            }
        }
        Response::from_json(&answer)
    }

    /// After the CONNECT answer: the replayed frames, then the parked
    /// session, if fully taken over, leaves the index.
    pub(super) async fn finish_resume(
        &self,
        sid: &str,
        replay: Option<Replay>,
        done_parked: Option<String>,
    ) -> worker::Result<()> {
        match replay {
            None => {}
            Some(Replay::Stamped(frames)) => {
                let sockets = self.inner.sockets.borrow();
                if let Some(conn) = sockets.get(sid) {
                    for frame in &frames {
                        send_js(conn, &JsValue::from_str(frame), frame);
                    }
                }
                drop(sockets);
                let mut recovery = self.inner.recovery.borrow_mut();
                for frame in &frames {
                    if let Some(offset) = crate::gateway::recovery::offset_in(frame) {
                        recovery.record(sid, offset);
                    }
                }
            }
            Some(Replay::Plain(frames)) => {
                for frame in &frames {
                    self.write_frame(sid, frame);
                }
            }
        }
        if let Some(parked) = done_parked {
            self.unpark(&parked, "recovered").await?;
        }
        Ok(())
    }
}

/// The frames a recovering namespace gets: this gateway's own (stamped
/// already), or another's (stamped here).
pub(super) enum Replay {
    Stamped(Vec<Rc<str>>),
    Plain(Vec<String>),
}

#[derive(Default)]
pub(super) struct ResumeOutcome {
    /// The pid for the CONNECT answer (`None`: recovery off or declined).
    pub pid: Option<String>,
    /// Set when the session was recovered.
    pub replay: Option<Replay>,
    pub joined: Option<JoinedRooms>,
    /// The parked session this CONNECT took the last namespace of.
    pub done_parked: Option<String>,
    /// Recovered from another gateway: the second look, once subscribed.
    pub handover: Option<Handover>,
}

/// Where and how to take the rest of a session recovered from another gateway.
pub(super) struct Handover {
    holder: String,
    body: RecoverAsk,
}

impl Handover {
    pub fn namespace(&self) -> &str {
        &self.body.namespace
    }
}

impl ResumeOutcome {
    /// Not recovered: the socket's pid, or a new one.
    fn fresh(gateway: &Gateway, own: Option<String>, sid: &str) -> Self {
        let pid = own.unwrap_or_else(|| {
            let nonce = uuid::Uuid::new_v4().simple().to_string();
            let pid = names::session_id(&gateway.name(), &nonce);
            gateway.inner.recovery.borrow_mut().track(sid, &pid);
            pid
        });
        let tracked = gateway.inner.recovery.borrow().is_tracked(sid);
        Self {
            pid: tracked.then_some(pid),
            ..Self::default()
        }
    }
}
