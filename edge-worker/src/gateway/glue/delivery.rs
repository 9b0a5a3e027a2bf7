//! Runs a `/deliver` (`gateway::delivery`): per item, the index's plan of
//! frames, evictions and closes, then the answer the Room reads.

use std::borrow::Cow;
use std::collections::BTreeSet;

use shared_types::internal::{MemberCheck, MemberCheckAnswer, MAX_MEMBER_CHECK_USERS};
use uuid::Uuid;
use worker::{Method, Response};

use super::frames::FrameCache;
use super::{now_ms, Gateway};
use crate::gateway::delivery::{Delivery, DeliveryItem, DeliveryRun};
use crate::runtime::core_client;

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
            // the frames of one item are mostly the same one: converted (and,
            // for sockets with a recovery pid, stamped) once (`glue::frames`)
            {
                let mut cache = FrameCache::default();
                let sockets = self.inner.sockets.borrow();
                let mut recovery = self.inner.recovery.borrow_mut();
                for (sid, frame) in &plan.sends {
                    if cache.write(&mut recovery, &sockets, sid, frame) {
                        run.frame_sent();
                    }
                }
            }
            if let DeliveryItem::Room {
                conversation_id, ..
            } = item
            {
                for (sid, epoch) in &plan.advance {
                    if let Some(ws) = self.socket(sid) {
                        self.update(&ws, |s| s.on_verified(*conversation_id, *epoch))?;
                    }
                }
                if !plan.held.is_empty() {
                    self.check_held(*conversation_id, &plan.held, &mut run)
                        .await?;
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

    /// Removed means removed: the frame of a socket verified before the
    /// event's removal epoch is written only after core confirms its user is
    /// still a member (then verified at core's epoch); a user who is not
    /// leaves the room. If core does not answer, the frames are not written
    /// (the client catches up with `after_seq` or the feed) and the next
    /// event asks again.
    async fn check_held(
        &self,
        conversation_id: Uuid,
        held: &[(String, String, Cow<'_, str>)],
        run: &mut DeliveryRun,
    ) -> worker::Result<()> {
        let config = self.config()?;
        let users: BTreeSet<&str> = held.iter().map(|(_, user, _)| user.as_str()).collect();
        let users: Vec<String> = users.into_iter().map(str::to_owned).collect();
        let path = format!("/internal/v1/conversations/{conversation_id}/members/check");
        for chunk in users.chunks(MAX_MEMBER_CHECK_USERS) {
            self.inner.counters.borrow_mut().member_checks += 1;
            let body = MemberCheck {
                user_ids: chunk.to_vec(),
            };
            let answer: MemberCheckAnswer =
                match core_client::call(&config, Method::Post, &path, "", Some(&body)).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        self.inner.counters.borrow_mut().member_checks_failed += 1;
                        worker::console_warn!("member check failed: {}", e.message);
                        continue;
                    }
                };
            for (sid, user, frame) in held.iter().filter(|(_, u, _)| chunk.contains(u)) {
                let Some(ws) = self.socket(sid) else {
                    continue;
                };
                if answer.members.contains(user) {
                    if self.write_frame(sid, frame) {
                        run.frame_sent();
                    }
                    let epoch = answer.removal_epoch;
                    self.update(&ws, |s| s.on_verified(conversation_id, epoch))?;
                } else {
                    let now = now_ms();
                    self.inner
                        .evictions
                        .borrow_mut()
                        .record(conversation_id, user, now);
                    if let Some((_, t)) = self.update(&ws, |s| s.on_evicted(conversation_id))? {
                        self.apply(run.evicted(t)).await;
                    }
                }
            }
        }
        Ok(())
    }
}
