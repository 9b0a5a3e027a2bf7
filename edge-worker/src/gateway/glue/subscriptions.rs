//! Acts on what an attachment change meant for the gateway as a whole
//! (`gateway::index::Transitions`): Room subscriptions
//! (`gateway::subscriptions`, awaited) and presence (batched, sent in the
//! background).

use std::rc::Rc;

use uuid::Uuid;

use super::Gateway;
use crate::gateway::index::Transitions;
use crate::gateway::join::EvictedUser;
use crate::gateway::subscriptions::{taken, SubscriptionChange};
use crate::room::api::SubscribeAnswer;
use crate::runtime::{http, objects};

impl Gateway {
    /// Returns whether the Rooms took every subscription (a join waits on it).
    pub(super) async fn apply(&self, t: Transitions) -> bool {
        self.apply_for_join(t).await.0
    }

    /// As `apply`, with the evictions the Rooms named in their answers to
    /// the subscriptions (a join checks them).
    pub(super) async fn apply_for_join(&self, t: Transitions) -> (bool, Vec<EvictedUser>) {
        self.report_presence(&t);
        let changes = self
            .inner
            .subscriptions
            .borrow_mut()
            .changes(&self.name(), &t);
        let mut ok = true;
        let mut evicted = Vec::new();
        for change in &changes {
            let (took, named) = self.tell_room(change).await;
            if change.subscribes() {
                ok &= took;
            }
            evicted.extend(named);
        }
        (ok, evicted)
    }

    pub(super) fn report_presence(&self, t: &Transitions) {
        {
            let mut batch = self.inner.presence.borrow_mut();
            if let Some(user) = &t.arrived {
                batch.arrived(user);
            }
            if let Some(user) = &t.departed {
                batch.departed(user);
            }
        }
        if t.arrived.is_some() || t.departed.is_some() {
            let inner = Rc::clone(&self.inner);
            let gateway = self.name();
            let active = objects::Active::enter(&self.inner.active);
            self.state.wait_until(async move {
                inner.flush_presence(gateway).await;
                drop(active);
            });
        }
    }

    /// Subscribes this gateway at the conversation's Room again (a typing
    /// relay it refused). Returns whether the Room took it.
    pub(super) async fn subscribe_again(&self, conversation_id: Uuid) -> bool {
        let change =
            self.inner
                .subscriptions
                .borrow_mut()
                .change(&self.name(), conversation_id, true);
        self.tell_room(&change).await.0
    }

    /// Sends one change to its Room. Returns whether the Room took it, and
    /// (for a subscription) the users it evicted lately; an answer without
    /// that list counts as not taken, so no join misses an eviction.
    async fn tell_room(&self, change: &SubscriptionChange) -> (bool, Vec<EvictedUser>) {
        let timeout = self.config().map(|c| c.object_timeout_ms).unwrap_or(5_000);
        let result = match objects::room(&self.inner.env, &change.body.conversation_id) {
            Ok(stub) => http::post_json(&stub, change.path, &change.body, timeout).await,
            Err(e) => Err(e),
        };
        let mut evicted = Vec::new();
        let status = match result {
            Ok(mut resp) if resp.status_code() == 200 && change.subscribes() => {
                match resp.json::<SubscribeAnswer>().await {
                    Ok(answer) => {
                        evicted = answer.evicted;
                        Some(200)
                    }
                    Err(e) => {
                        worker::console_warn!("room {} answer unreadable: {e}", change.path);
                        None
                    }
                }
            }
            Ok(resp) => Some(resp.status_code()),
            Err(e) => {
                worker::console_warn!("room {} failed: {e}", change.path);
                None
            }
        };
        let took = taken(status);
        if let (false, Some(status)) = (took, status) {
            worker::console_warn!("room {} answered {status}", change.path);
        }
        (took, evicted)
    }
}
