//! Which Rooms list this gateway: when its first socket joins a
//! conversation it subscribes at that conversation's Room, when its last one
//! leaves it unsubscribes. Each change carries a version that increases with
//! every change of this gateway, also across restarts of the object (they
//! start from the clock), so a Room ignores a change that arrives after a
//! newer one. Versions are taken when the index reports the transitions, in
//! the order the changes happened, not when the calls go out.

use uuid::Uuid;

use crate::gateway::index::Transitions;
use crate::room::api::Subscription;

/// One change for one Room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// The Room's route: `/subscribe` or `/unsubscribe`.
    pub path: &'static str,
    pub body: Subscription,
}

impl SubscriptionChange {
    pub fn subscribes(&self) -> bool {
        self.path == "/subscribe"
    }
}

/// The gateway's change counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    version: u64,
}

impl Subscriptions {
    /// Versions of a gateway (re)started at `now_ms`: above any it sent
    /// before, at up to 1,000 changes a millisecond.
    pub fn new(now_ms: u64) -> Self {
        Self {
            version: now_ms.saturating_mul(1_000),
        }
    }

    /// The changes a set of transitions needs, subscriptions first (a join
    /// waits for their answers).
    pub fn changes(&mut self, gateway: &str, t: &Transitions) -> Vec<SubscriptionChange> {
        let subscribes = t.subscribe.iter().map(|c| (*c, true));
        let unsubscribes = t.unsubscribe.iter().map(|c| (*c, false));
        subscribes
            .chain(unsubscribes)
            .map(|(conversation_id, subscribe)| self.change(gateway, conversation_id, subscribe))
            .collect()
    }

    /// One change with the next version.
    pub fn change(
        &mut self,
        gateway: &str,
        conversation_id: Uuid,
        subscribe: bool,
    ) -> SubscriptionChange {
        self.version = self.version.saturating_add(1);
        SubscriptionChange {
            path: if subscribe {
                "/subscribe"
            } else {
                "/unsubscribe"
            },
            body: Subscription {
                conversation_id,
                gateway: gateway.to_owned(),
                version: self.version,
            },
        }
    }
}

/// Whether the Room took a change (`None`: the call failed).
pub fn taken(status: Option<u16>) -> bool {
    status == Some(200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::{GatewaySet, RoomState};

    fn conv(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn subscriptions_go_first_and_every_change_gets_the_next_version() {
        let mut subs = Subscriptions::new(5);
        let t = Transitions {
            subscribe: vec![conv(1), conv(2)],
            unsubscribe: vec![conv(3)],
            ..Default::default()
        };
        let changes = subs.changes("DFW.0", &t);
        let seen: Vec<(&str, Uuid, u64)> = changes
            .iter()
            .map(|c| (c.path, c.body.conversation_id, c.body.version))
            .collect();
        assert_eq!(
            seen,
            [
                ("/subscribe", conv(1), 5_001),
                ("/subscribe", conv(2), 5_002),
                ("/unsubscribe", conv(3), 5_003)
            ]
        );
        assert!(changes[0].subscribes() && !changes[2].subscribes());
        assert!(changes.iter().all(|c| c.body.gateway == "DFW.0"));
        assert!(subs.changes("DFW.0", &Transitions::default()).is_empty());
    }

    /// A Room applies them by version: a subscription that overtook the
    /// older unsubscription on the way is not undone by it, and a gateway
    /// that restarted still outranks what it sent before.
    #[test]
    fn the_room_keeps_the_newest_change_whatever_arrives_last() {
        let mut subs = Subscriptions::new(1_000);
        let leave = subs.change("DFW.0", conv(1), false);
        let join = subs.change("DFW.0", conv(1), true);
        let mut room = RoomState::new(GatewaySet::new(), 300);
        assert!(room.subscribe(&join.body.gateway, join.body.version));
        assert!(!room.unsubscribe(&leave.body.gateway, leave.body.version));
        assert!(room.is_subscribed("DFW.0"));

        let mut restarted = Subscriptions::new(1_001);
        let leave = restarted.change("DFW.0", conv(1), false);
        assert!(room.unsubscribe(&leave.body.gateway, leave.body.version));
    }

    #[test]
    fn only_a_200_is_taken() {
        assert!(taken(Some(200)));
        assert!(!taken(Some(403)) && !taken(Some(500)) && !taken(None));
    }
}
