//! Runs a `/deliver` (`gateway::delivery`): per item, the members here to
//! notify (`gateway::local_members`, asking core when the cache cannot
//! answer), the index's plan of frames, evictions and closes, then the
//! answer the Room reads.

use std::borrow::Cow;
use std::collections::BTreeSet;

use shared_types::internal::{
    MemberCheck, MemberCheckAnswer, NotifyPrune, NotifyPruned, MAX_MEMBER_CHECK_USERS,
};
use uuid::Uuid;
use worker::{Method, Response};

use super::frames::FrameCache;
use super::{now_ms, Gateway};
use crate::gateway::delivery::{Delivery, DeliveryItem, DeliveryRun};
use crate::gateway::local_members::Need;
use crate::runtime::config::EdgeConfig;
use crate::runtime::core_client::{self, CoreError};

impl Gateway {
    /// Frames from a Room or from core (through the Worker) for local sockets.
    pub(super) async fn deliver(&self, delivery: Delivery) -> worker::Result<Response> {
        let admitted =
            DeliveryRun::admit(&delivery, &mut self.inner.replays.borrow_mut(), now_ms());
        let Some(mut run) = admitted else {
            return Response::error("replayed", 401);
        };
        if let Some(gateway) = &delivery.gateway {
            if self.name().is_empty() {
                *self.inner.name.borrow_mut() = Some(gateway.clone());
            }
        }
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
                self.inner
                    .local_members
                    .borrow_mut()
                    .removed(conversation_id, user);
            }
            let members = match item {
                DeliveryItem::Room {
                    conversation_id,
                    notify: Some(notify),
                    removal_epoch,
                    ..
                } => {
                    self.notify_members(*conversation_id, notify.stamp, *removal_epoch)
                        .await
                }
                DeliveryItem::Members {
                    conversation_id,
                    stamp,
                    removal_epoch,
                    ..
                } => {
                    self.notify_members(*conversation_id, *stamp, *removal_epoch)
                        .await
                }
                _ => Vec::new(),
            };
            let plan = self.index().plan_with(item, &members);
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

    /// This gateway's users who are members of the conversation, for the
    /// notify of an event registered here at `stamp`: from the cache, else
    /// from core (one `members/check` per chunk of users). Empty when core
    /// does not answer (fail closed, counted). With no member here, core is
    /// asked once per stamp to drop this gateway from the notify set.
    async fn notify_members(
        &self,
        conversation_id: Uuid,
        stamp: u64,
        epoch: Option<i64>,
    ) -> Vec<String> {
        let need = self
            .inner
            .local_members
            .borrow()
            .need(&conversation_id, stamp, epoch, || self.index().users());
        if let Need::Check { users, full } = need {
            let Some(answer) = self.check_members(conversation_id, &users).await else {
                self.inner.counters.borrow_mut().notify_checks_failed += 1;
                return Vec::new();
            };
            self.inner
                .local_members
                .borrow_mut()
                .learn(conversation_id, stamp, full, answer);
        }
        let members = {
            let index = self.index();
            self.inner
                .local_members
                .borrow_mut()
                .members_here(&conversation_id, |u| index.has_user(u))
        };
        if members.is_empty()
            && self
                .inner
                .local_members
                .borrow_mut()
                .prune_once(conversation_id, stamp)
        {
            self.prune(conversation_id, stamp).await;
        }
        members
    }

    /// Which of `users` are members, asked in chunks; `None` if a chunk failed.
    async fn check_members(
        &self,
        conversation_id: Uuid,
        users: &[String],
    ) -> Option<MemberCheckAnswer> {
        let config = self.config().ok()?;
        let mut merged: Option<MemberCheckAnswer> = None;
        for chunk in users.chunks(MAX_MEMBER_CHECK_USERS) {
            self.inner.counters.borrow_mut().notify_checks += 1;
            let answer = match ask_members(&config, conversation_id, chunk).await {
                Ok(answer) => answer,
                Err(e) => {
                    worker::console_warn!("notify member check failed: {}", e.message);
                    return None;
                }
            };
            merged = Some(match merged {
                None => answer,
                Some(mut m) => {
                    m.removal_epoch = m.removal_epoch.min(answer.removal_epoch);
                    m.members.extend(answer.members);
                    m
                }
            });
        }
        merged
    }

    /// No member of the conversation here as of `stamp`: core drops this
    /// gateway from its notify set unless a newer registration came since.
    async fn prune(&self, conversation_id: Uuid, stamp: u64) {
        let Ok(config) = self.config() else {
            return;
        };
        let Some(gateway) = self.inner.name.borrow().clone() else {
            return;
        };
        self.inner.counters.borrow_mut().notify_prunes += 1;
        let path = format!("/internal/v1/conversations/{conversation_id}/gateways/prune");
        let body = NotifyPrune { gateway, stamp };
        let pruned: Result<NotifyPruned, _> =
            core_client::call(&config, Method::Post, &path, "", Some(&body)).await;
        if let Err(e) = pruned {
            worker::console_warn!("notify prune failed: {}", e.message);
        }
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
        for chunk in users.chunks(MAX_MEMBER_CHECK_USERS) {
            self.inner.counters.borrow_mut().member_checks += 1;
            let answer = match ask_members(&config, conversation_id, chunk).await {
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

/// One `members/check` call: which of `users` (at most
/// `MAX_MEMBER_CHECK_USERS`) are members, and the conversation's removal epoch.
async fn ask_members(
    config: &EdgeConfig,
    conversation_id: Uuid,
    users: &[String],
) -> Result<MemberCheckAnswer, CoreError> {
    let path = format!("/internal/v1/conversations/{conversation_id}/members/check");
    let body = MemberCheck {
        user_ids: users.to_vec(),
    };
    core_client::call(config, Method::Post, &path, "", Some(&body)).await
}
