//! Writing event frames to sessions: converted to JS once per delivery
//! item, and stamped with a recovery offset for sessions that have a pid
//! (`gateway::recovery`, run by `glue::recovery`).

use std::rc::Rc;

use rustc_hash::FxHashMap;
use wasm_bindgen::JsValue;

use super::sockets::{send_js, Conn};
use super::Gateway;
use crate::gateway::recovery::Recovery;

/// One delivery item's frames, converted to JS once each: plain for
/// sockets without a pid, stamped (one offset per frame) for the others.
#[derive(Default)]
pub(super) struct FrameCache {
    entries: Vec<CachedFrame>,
}

struct CachedFrame {
    /// Where the frame it was made from lives (borrowed from the delivery).
    ptr: *const u8,
    plain: String,
    plain_js: Option<JsValue>,
    /// The offset and stamped frame; `None` inside when it is not an event.
    stamped: Option<Option<(u64, Rc<str>, JsValue)>>,
}

impl FrameCache {
    fn entry(&mut self, frame: &str) -> &mut CachedFrame {
        // the same frame is mostly the same pointer: compared by content only otherwise
        let same = |e: &CachedFrame| {
            (e.ptr == frame.as_ptr() && e.plain.len() == frame.len()) || e.plain == frame
        };
        let at = match self.entries.iter().position(same) {
            Some(at) => at,
            None => {
                self.entries.push(CachedFrame {
                    ptr: frame.as_ptr(),
                    plain: frame.to_owned(),
                    plain_js: None,
                    stamped: None,
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[at]
    }

    /// Writes `frame` to the session `sid`: stamped and logged when it has a
    /// pid (only logged when it is parked). Whether a frame was written.
    pub(super) fn write(
        &mut self,
        recovery: &mut Recovery,
        sockets: &FxHashMap<String, Conn>,
        sid: &str,
        frame: &str,
    ) -> bool {
        let Some(conn) = sockets.get(sid) else {
            return false;
        };
        // a session taking over from another gateway: written once it has all
        if recovery.hold_push(sid, frame) {
            return false;
        }
        let entry = self.entry(frame);
        if recovery.is_tracked(sid) {
            let stamped = entry.stamped.get_or_insert_with(|| {
                (recovery.stamp(frame)).map(|(o, f)| (o, f.clone(), JsValue::from_str(&f)))
            });
            if let Some((offset, text, js)) = stamped {
                recovery.record(sid, *offset);
                return send_js(conn, js, text);
            }
        }
        let js = entry
            .plain_js
            .get_or_insert_with(|| JsValue::from_str(frame));
        send_js(conn, js, frame)
    }
}

impl Gateway {
    /// Writes one frame to a session (stamped when it has a pid), outside a
    /// delivery's loop.
    pub(super) fn write_frame(&self, sid: &str, frame: &str) -> bool {
        let sockets = self.inner.sockets.borrow();
        let mut recovery = self.inner.recovery.borrow_mut();
        FrameCache::default().write(&mut recovery, &sockets, sid, frame)
    }
}
