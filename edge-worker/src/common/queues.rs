//! `OrderedQueues`: per-target queues that keep work in order and batch it
//! under load (a Room's deliveries per gateway, a socket's `/calls` requests).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Per-target ordered queues with one piece of work in flight per target.
/// Items that queue up meanwhile go together in the next batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedQueues<T> {
    queues: BTreeMap<String, VecDeque<T>>,
    busy: BTreeSet<String>,
}

impl<T> OrderedQueues<T> {
    pub fn new() -> Self {
        Self {
            queues: BTreeMap::new(),
            busy: BTreeSet::new(),
        }
    }

    /// Queues an item. Returns true when the target was idle: the caller must
    /// start a delivery loop for it (`take` until it returns `None`).
    pub fn push(&mut self, target: &str, item: T) -> bool {
        self.queues
            .entry(target.to_owned())
            .or_default()
            .push_back(item);
        self.busy.insert(target.to_owned())
    }

    /// The next batch (at most `max` items) for a target, in order; `None`
    /// when its queue is empty, which also marks it idle.
    pub fn take(&mut self, target: &str, max: usize) -> Option<Vec<T>> {
        let queue = self.queues.get_mut(target);
        let batch: Vec<T> = match queue {
            Some(q) => {
                let n = q.len().min(max.max(1));
                q.drain(..n).collect()
            }
            None => Vec::new(),
        };
        if batch.is_empty() {
            self.queues.remove(target);
            self.busy.remove(target);
            return None;
        }
        Some(batch)
    }

    /// Drops what is queued for a target (its socket closed); returns it.
    pub fn discard(&mut self, target: &str) -> Vec<T> {
        self.queues
            .remove(target)
            .map(Vec::from)
            .unwrap_or_default()
    }

    pub fn queued(&self, target: &str) -> usize {
        self.queues.get(target).map_or(0, VecDeque::len)
    }

    pub fn is_busy(&self, target: &str) -> bool {
        self.busy.contains(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delivery_in_flight_per_target_and_batches_in_order() {
        let mut q = OrderedQueues::new();
        assert!(q.push("gw-a", 1), "idle: start a loop");
        assert!(!q.push("gw-a", 2), "busy: the running loop takes it");
        assert!(q.push("gw-b", 10), "targets are independent");
        assert_eq!(q.take("gw-a", 100), Some(vec![1, 2]));
        q.push("gw-a", 3);
        q.push("gw-a", 4);
        q.push("gw-a", 5);
        assert_eq!(q.take("gw-a", 2), Some(vec![3, 4]));
        assert_eq!(q.take("gw-a", 2), Some(vec![5]));
        assert!(q.is_busy("gw-a"));
        assert_eq!(q.take("gw-a", 2), None);
        assert!(!q.is_busy("gw-a"));
        assert!(q.push("gw-a", 6), "idle again");
        assert_eq!(
            q.take("gw-b", 0),
            Some(vec![10]),
            "max 0 still makes progress"
        );
    }

    #[test]
    fn discard_empties_a_target() {
        let mut q = OrderedQueues::new();
        q.push("s1", "a");
        q.push("s1", "b");
        assert_eq!(q.queued("s1"), 2);
        assert_eq!(q.discard("s1"), ["a", "b"]);
        assert_eq!(q.queued("s1"), 0);
        assert_eq!(q.take("s1", 10), None);
    }
}
