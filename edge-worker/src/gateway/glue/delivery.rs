//! Runs a `/deliver` (`gateway::delivery`): per item, the index's plan of
//! frames, evictions and closes, then the answer the Room reads.

use wasm_bindgen::JsValue;
use worker::Response;

use super::sockets::send_js;
use super::{now_ms, Gateway};
use crate::gateway::delivery::{Delivery, DeliveryItem, DeliveryRun};

impl Gateway {
    /// Frames from a Room or from core (through the Worker) for local sockets.
    pub(super) async fn deliver(&self, delivery: Delivery) -> worker::Result<Response> {
        let admitted =
            DeliveryRun::admit(&delivery, &mut self.inner.replays.borrow_mut(), now_ms());
        let Some(mut run) = admitted else {
            return Response::error("replayed", 401);
        };
        for item in &delivery.items {
            if let DeliveryItem::Room {
                conversation_id,
                evict_user: Some(user),
                ..
            } = item
            {
                // a join of this user in progress takes itself back
                let now = now_ms();
                self.inner
                    .evictions
                    .borrow_mut()
                    .record(*conversation_id, user, now);
            }
            let plan = self.index().plan(item);
            // the frames of one item are mostly the same one: convert it once
            {
                let mut last: Option<(*const u8, JsValue)> = None;
                let sockets = self.inner.sockets.borrow();
                for (sid, frame) in &plan.sends {
                    // borrowed, not cloned: a clone and its drop are two calls into JS
                    let Some(conn) = sockets.get(sid) else {
                        continue;
                    };
                    let js = match &last {
                        Some((at, js)) if *at == frame.as_ptr() => js,
                        _ => &last.insert((frame.as_ptr(), JsValue::from_str(frame))).1,
                    };
                    if send_js(conn, js, frame) {
                        run.frame_sent();
                    }
                }
            }
            for (sid, conversation_id) in &plan.evict {
                if let Some(ws) = self.socket(sid) {
                    if let Some((_, t)) = self.update(&ws, |s| s.on_evicted(*conversation_id))? {
                        self.apply(run.evicted(t)).await;
                    }
                }
            }
            for sid in &plan.close {
                if let Some(ws) = self.socket(sid) {
                    self.shut(&ws, 1000, "session closed by the server").await?;
                }
            }
            run.item_done(item, &self.index());
        }
        let answer = run.answer();
        self.inner.counters.borrow_mut().frames_sent += u64::from(answer.frames);
        Response::from_json(&answer)
    }
}
