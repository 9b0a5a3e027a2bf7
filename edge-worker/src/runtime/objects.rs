//! Addressing the Durable Objects (their messages are `room::api` and
//! `gateway::delivery`).

use std::cell::RefCell;
use std::rc::Rc;

use uuid::Uuid;
use worker::{Date, Env, Stub};

use crate::common::stats::ActiveClock;

pub fn gateway(env: &Env, name: &str) -> worker::Result<Stub> {
    env.durable_object("GATEWAY")?
        .id_from_name(name)?
        .get_stub()
}

pub fn room(env: &Env, conversation_id: &Uuid) -> worker::Result<Stub> {
    env.durable_object("ROOM")?
        .id_from_name(&conversation_id.to_string())?
        .get_stub()
}

/// `set_alarm` takes an offset from now (an `i64` of milliseconds), not a
/// time: this turns the absolute `at_ms` into one, 0 when it is past.
pub fn offset_ms(at_ms: u64, now_ms: u64) -> i64 {
    at_ms.saturating_sub(now_ms) as i64
}

/// Counts an object's active time while alive: made when a request, a
/// WebSocket event, an alarm or a kept-alive task starts, dropped when it
/// ends (`common::stats::ActiveClock`, the `active_ms` counter).
pub struct Active(Rc<RefCell<ActiveClock>>);

impl Active {
    pub fn enter(clock: &Rc<RefCell<ActiveClock>>) -> Self {
        clock.borrow_mut().enter(Date::now().as_millis());
        Self(Rc::clone(clock))
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.borrow_mut().leave(Date::now().as_millis());
    }
}
