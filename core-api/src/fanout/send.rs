//! A lane's send: resolve user targets from presence, then POST the batch
//! signed, with a timeout per attempt and retries on 5xx and network errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared_auth::internal_sig;
use shared_types::internal::{FanoutBatch, FanoutEvent, FanoutTarget, GatewayUsers, NotifyGateway};
use shared_types::limits::MAX_BODY_BYTES;
use uuid::Uuid;

use super::push::{Push, Resolve, Stats, Targets};
use crate::clock::Clock;

const ATTEMPTS: u32 = 3;

/// What a lane needs to resolve and send; shared by the lanes.
pub(super) struct Sender {
    pub(super) http: reqwest::Client,
    pub(super) url: String,
    pub(super) path_and_query: String,
    pub(super) secret: SecretString,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) targets: Arc<dyn Targets>,
    pub(super) timeout: Duration,
    pub(super) stats: Arc<Stats>,
}

impl Sender {
    pub(super) async fn send_batch(&self, lane: usize, batch: Vec<Push>) {
        let events = self.resolve(batch).await;
        if events.is_empty() {
            return;
        }
        // a batch over the edge's body limit goes as consecutive halves, in order
        let mut pending = vec![events];
        while let Some(events) = pending.pop() {
            let count = events.len() as u64;
            let batch = FanoutBatch { events };
            let Ok(body) = serde_json::to_vec(&batch) else {
                continue;
            };
            if body.len() > MAX_BODY_BYTES && count > 1 {
                let mut events = batch.events;
                let second = events.split_off(events.len() / 2);
                pending.push(second);
                pending.push(events);
                continue;
            }
            if self.post(lane, &body).await {
                self.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
                self.stats.events_sent.fetch_add(count, Ordering::Relaxed);
            } else {
                self.stats.batches_failed.fetch_add(1, Ordering::Relaxed);
                self.stats.events_failed.fetch_add(count, Ordering::Relaxed);
            }
        }
    }

    /// Fills user targets from presence (one Redis pipeline for every user in
    /// the batch), and the notify part of new messages and the gateways of
    /// member-wide events from the conversations' gateway sets (one
    /// pipeline: O(gateways), never O(members)).
    async fn resolve(&self, batch: Vec<Push>) -> Vec<FanoutEvent> {
        let notify = self.notify_sets(&batch).await;
        let mut wanted: HashSet<&str> = HashSet::new();
        for push in &batch {
            match &push.resolve {
                Resolve::Nothing | Resolve::NotifyMembers(_) => {}
                Resolve::Users(users) => wanted.extend(users.iter().map(String::as_str)),
                Resolve::Members { also, .. } => wanted.extend(also.iter().map(String::as_str)),
            }
        }
        let wanted: Vec<String> = wanted.into_iter().map(str::to_string).collect();
        let gateways = if wanted.is_empty() {
            Some(HashMap::new())
        } else {
            let now_ms = self.clock.now().timestamp_millis();
            let read =
                tokio::time::timeout(self.timeout, self.targets.gateways_of(&wanted, now_ms)).await;
            match read {
                Ok(Ok(g)) => Some(g),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "presence unavailable, user targets dropped");
                    None
                }
                Err(_) => {
                    tracing::error!("presence read timed out, user targets dropped");
                    None
                }
            }
        };
        let mut out = Vec::with_capacity(batch.len());
        for push in batch {
            let mut event = push.event;
            match push.resolve {
                Resolve::Nothing => {}
                Resolve::NotifyMembers(id) => {
                    match notify.as_ref().map(|sets| sets.get(&id)) {
                        Some(set) => {
                            if let FanoutTarget::Conversation { notify, .. } = &mut event.target {
                                *notify = set.cloned().unwrap_or_default();
                            }
                        }
                        // the Room still gets the event; only the notify part is lost
                        None => self.unresolved(),
                    }
                }
                Resolve::Members {
                    conversation_id,
                    also,
                } => {
                    let (Some(sets), Some(g)) = (&notify, &gateways) else {
                        self.unresolved();
                        continue;
                    };
                    let set = sets.get(&conversation_id).cloned().unwrap_or_default();
                    let also = by_gateway(&also, g);
                    if set.is_empty() && also.is_empty() {
                        continue; // nobody online: they catch up over REST
                    }
                    event.target = FanoutTarget::Members {
                        conversation_id,
                        gateways: set,
                        also,
                    };
                }
                Resolve::Users(users) => {
                    let Some(g) = &gateways else {
                        self.unresolved();
                        continue;
                    };
                    let grouped = by_gateway(&users, g);
                    if grouped.is_empty() {
                        continue; // nobody online: they catch up over REST
                    }
                    event.target = FanoutTarget::Gateways { gateways: grouped };
                }
            }
            out.push(event);
        }
        self.stamp_removal_epochs(&mut out).await;
        out
    }

    /// The notify sets of the batch's conversations whose new messages notify
    /// members or whose membership events go to every member; `None` when
    /// Redis did not answer.
    async fn notify_sets(&self, batch: &[Push]) -> Option<HashMap<Uuid, Vec<NotifyGateway>>> {
        let mut ids: Vec<Uuid> = batch
            .iter()
            .filter_map(|p| match p.resolve {
                Resolve::NotifyMembers(id) => Some(id),
                Resolve::Members {
                    conversation_id, ..
                } => Some(conversation_id),
                _ => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Some(HashMap::new());
        }
        match tokio::time::timeout(self.timeout, self.targets.notify_gateways(&ids)).await {
            Ok(Ok(sets)) => Some(sets),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "notify sets unavailable, notify parts dropped");
                None
            }
            Err(_) => {
                tracing::error!("notify sets read timed out, notify parts dropped");
                None
            }
        }
    }

    /// Stamps each room event that lacks one with its conversation's removal
    /// epoch as it is now (one query per batch): at least the epoch the event
    /// was made under, so a gateway re-checks any socket verified before a
    /// removal. Unstamped if the read fails (counted as unresolved).
    async fn stamp_removal_epochs(&self, events: &mut [FanoutEvent]) {
        let mut wanted: Vec<Uuid> = events
            .iter()
            .filter(|e| e.removal_epoch.is_none())
            .filter_map(|e| match &e.target {
                FanoutTarget::Conversation {
                    conversation_id, ..
                }
                | FanoutTarget::Members {
                    conversation_id, ..
                } => Some(*conversation_id),
                FanoutTarget::Gateways { .. } => None,
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return;
        }
        let read = tokio::time::timeout(self.timeout, self.targets.removal_epochs(&wanted)).await;
        let epochs = match read {
            Ok(Ok(epochs)) => epochs,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "removal epochs unavailable, room events unstamped");
                self.unresolved();
                return;
            }
            Err(_) => {
                tracing::error!("removal epochs read timed out, room events unstamped");
                self.unresolved();
                return;
            }
        };
        for event in events.iter_mut().filter(|e| e.removal_epoch.is_none()) {
            if let FanoutTarget::Conversation {
                conversation_id, ..
            }
            | FanoutTarget::Members {
                conversation_id, ..
            } = &event.target
            {
                event.removal_epoch = epochs.get(conversation_id).copied();
            }
        }
    }

    fn unresolved(&self) {
        self.stats.unresolved.fetch_add(1, Ordering::Relaxed);
    }

    async fn post(&self, lane: usize, body: &[u8]) -> bool {
        for attempt in 1..=ATTEMPTS {
            // each attempt is signed anew with a fresh nonce: the edge refuses a repeated signature
            let nonce = Uuid::new_v4().simple().to_string();
            let headers = internal_sig::signed_headers(
                self.secret.expose_secret().as_bytes(),
                "POST",
                &self.path_and_query,
                self.clock.unix_secs(),
                &nonce,
                "",
                body,
            );
            let mut req = self
                .http
                .post(&self.url)
                .header("content-type", "application/json");
            for (name, value) in headers {
                req = req.header(name, value);
            }
            match req.body(body.to_vec()).send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) if r.status().is_client_error() => {
                    tracing::error!(status = %r.status(), lane, "edge refused a push batch, dropped");
                    return false;
                }
                Ok(r) => tracing::warn!(status = %r.status(), attempt, lane, "push batch failed"),
                Err(e) => {
                    tracing::warn!(error = %e.without_url(), attempt, lane, "push batch failed")
                }
            }
            if attempt < ATTEMPTS {
                // spares a struggling edge; the lane waits, so order is kept
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
        tracing::error!(lane, "push batch given up after {ATTEMPTS} attempts");
        false
    }
}

/// `users` that are online, grouped by gateway (gateways sorted, users in the given order).
fn by_gateway(users: &[String], presence: &HashMap<String, Vec<String>>) -> Vec<GatewayUsers> {
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for user in users {
        if !seen.insert(user.as_str()) {
            continue;
        }
        for gateway in presence.get(user).into_iter().flatten() {
            grouped
                .entry(gateway.as_str())
                .or_default()
                .push(user.clone());
        }
    }
    // sorted: the members come from a Redis set, in no stable order
    grouped
        .into_iter()
        .map(|(gateway, mut user_ids)| {
            user_ids.sort_unstable();
            GatewayUsers {
                gateway: gateway.to_string(),
                user_ids,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_grouped_by_gateway_once_each_in_order() {
        let presence: HashMap<String, Vec<String>> = [
            ("a", vec!["DFW.0", "AMS.1"]),
            ("b", vec!["DFW.0"]),
            ("c", vec![]),
        ]
        .into_iter()
        .map(|(u, g)| (u.to_string(), g.into_iter().map(str::to_string).collect()))
        .collect();
        let users: Vec<String> = ["b", "a", "c", "a", "d"].map(str::to_string).to_vec();
        let grouped = by_gateway(&users, &presence);
        assert_eq!(
            grouped,
            vec![
                GatewayUsers {
                    gateway: "AMS.1".into(),
                    user_ids: vec!["a".into()]
                },
                GatewayUsers {
                    gateway: "DFW.0".into(),
                    user_ids: vec!["a".into(), "b".into()]
                },
            ]
        );
    }
}
