//! The gateway's alarm: one ping round over its sockets and polling
//! sessions (`protocol::heartbeat`), closing those past their connect, pong
//! or token deadline and telling those whose token just expired
//! (`gateway::token_life`). A polling session's ping waits for its next GET
//! and its pong comes in a POST; the same deadlines judge it.

use worker::Response;

use super::sockets::{read_attachment, Conn};
use super::{now_ms, Gateway};
use crate::common::stats;
use crate::protocol::engineio::PING_FRAME;
use crate::protocol::heartbeat::SocketCheck;

impl Gateway {
    pub(super) async fn ping_round(&self) -> worker::Result<Response> {
        self.inner.counters.borrow_mut().alarms += 1;
        let config = self.config()?;
        let heartbeat = config.heartbeat();
        let now = now_ms();
        let mut sockets = Vec::new();
        for ws in self.state.get_websockets() {
            let Some(session) = read_attachment(&ws)? else {
                continue;
            };
            if session.probing {
                self.check_probe(&ws, &session.session_id, now);
                continue;
            }
            let last_pong = self.last_pong_at(&ws);
            sockets.push((Conn::Ws(ws), session, last_pong));
        }
        for slot in self.inner.polls.borrow().values() {
            let poll = slot.poll.borrow();
            sockets.push((
                Conn::Poll(slot.clone()),
                poll.state.clone(),
                poll.last_pong_at_ms,
            ));
        }
        let mut dead = Vec::new();
        let mut pass = self.inner.rounds.borrow().pass(heartbeat, now);
        for (ws, session, last_pong) in &sockets {
            // over its buffer cap: closed, and unregistered here at the latest
            if matches!(ws, Conn::Poll(slot) if slot.poll.borrow().is_closed()) {
                dead.push((ws.clone(), "polling buffer full"));
                continue;
            }
            let liveness = session.liveness(*last_pong, config.token_refresh_grace_ms);
            match pass.judge(&self.inner.rounds.borrow(), liveness) {
                SocketCheck::Ping if pass.round_due => {
                    ws.send_frame(PING_FRAME);
                }
                SocketCheck::Ping => {}
                SocketCheck::ConnectTimeout => dead.push((ws.clone(), "connect timeout")),
                SocketCheck::PingTimeout => dead.push((ws.clone(), "ping timeout")),
                SocketCheck::TokenExpired => dead.push((ws.clone(), "token expired")),
            }
            // written only for the one round that tells it
            if session.token_expired(now) && !session.told_token_expired {
                if let Some((frames, _)) = self.update(ws, |s| s.expiry_notice(now))? {
                    self.send(ws, &frames);
                }
            }
        }
        if pass.round_due {
            self.inner.rounds.borrow_mut().sent(now);
        }
        for (ws, reason) in dead.iter() {
            match *reason {
                // recoverable, as in the reference server (the client may come back)
                "ping timeout" => self.close_or_park(ws, 1000, reason).await?,
                _ => self.shut(ws, 1000, reason).await?,
            }
        }
        self.expire_parked(now).await?;
        self.full_presence_report(now).await?;
        let mut counters = self.inner.counters.borrow().clone();
        counters.sockets = (sockets.len() - dead.len()) as u64;
        worker::console_log!("{}", stats::log_line("gateway", &self.name(), &counters));
        if sockets.len() > dead.len() {
            let at =
                (self.inner.rounds.borrow()).next_alarm_at(heartbeat, now, pass.earliest_deadline);
            self.set_alarm(at, now).await?;
        } else {
            self.inner.alarm_armed.set(false);
        }
        self.keep_awake(now).await?;
        Response::ok("pinged")
    }

    /// Makes sure the alarm comes by a new socket's first round of pings (or
    /// its connect deadline): an alarm armed later (keeping the object awake
    /// for parked sessions) is moved forward.
    pub(super) async fn arm_by(&self, connect_deadline: u64, now: u64) -> worker::Result<()> {
        let config = self.config()?;
        let due_by = (self.inner.rounds.borrow()).new_socket_alarm_by(
            config.heartbeat(),
            now,
            connect_deadline,
        );
        self.arm_no_later_than(due_by, now).await
    }

    /// Makes sure the alarm comes by `by`: an alarm already armed at or
    /// before it stays (no storage write), a later one or none is set to `by`.
    pub(super) async fn arm_no_later_than(&self, by: u64, now: u64) -> worker::Result<()> {
        let armed_at = if self.inner.alarm_armed.get() {
            Some(self.inner.alarm_at.get())
        } else {
            self.state
                .storage()
                .get_alarm()
                .await?
                .map(|at| at.max(0) as u64)
        };
        match armed_at {
            Some(at) if at <= by => {
                self.inner.alarm_at.set(at);
                self.inner.alarm_armed.set(true);
            }
            _ => self.set_alarm(by, now).await?,
        }
        Ok(())
    }
}
