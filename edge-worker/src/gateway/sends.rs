//! A gateway's socket sends on their way to core, batched across sockets.
//!
//! One call to core per message made a socket's throughput one message per
//! round trip and the gateway's cost one subrequest per message. Instead the
//! gateway sends whatever its sockets have queued as one batch, with a few
//! batches in flight at once. A socket's sends keep their order: a socket
//! with a send in flight contributes nothing to the next batch until that
//! batch is answered, and within a batch its sends stay in order (core stores
//! each sender's sends of a batch one after the other).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendBatcher<T> {
    /// Each queued send with its size in bytes.
    queues: BTreeMap<String, VecDeque<(T, usize)>>,
    /// Sockets with sends in a batch that core has not answered yet.
    in_flight: BTreeSet<String>,
    batches_in_flight: usize,
    max_batches: usize,
    max_items: usize,
    max_bytes: usize,
}

/// One batch: each socket's sends, in order, at most `max_items` and
/// `max_bytes` in all (but always at least one send).
pub type Batch<T> = Vec<(String, Vec<T>)>;

impl<T> SendBatcher<T> {
    /// `max_batches` calls to core at once, each with at most `max_items`
    /// sends and `max_bytes` bytes of them.
    pub fn new(max_batches: usize, max_items: usize, max_bytes: usize) -> Self {
        Self {
            queues: BTreeMap::new(),
            in_flight: BTreeSet::new(),
            batches_in_flight: 0,
            max_batches: max_batches.max(1),
            max_items: max_items.max(1),
            max_bytes,
        }
    }

    /// Queues a socket's send. Returns true when the caller should start a
    /// batch loop (`next_batch` … `finish` until `next_batch` is `None`).
    pub fn push(&mut self, socket: &str, item: T, bytes: usize) -> bool {
        self.queues
            .entry(socket.to_owned())
            .or_default()
            .push_back((item, bytes));
        self.batches_in_flight < self.max_batches && !self.in_flight.contains(socket)
    }

    /// The next batch: the queued sends of every socket that has none in
    /// flight, oldest sockets' sends first (a socket's sends never split
    /// across two batches in flight). `None` when nothing is ready or the
    /// limit of batches in flight is reached.
    pub fn next_batch(&mut self) -> Option<Batch<T>> {
        if self.batches_in_flight >= self.max_batches {
            return None;
        }
        let mut batch = Vec::new();
        let (mut items, mut bytes) = (0usize, 0usize);
        let ready: Vec<String> = self
            .queues
            .keys()
            .filter(|s| !self.in_flight.contains(*s))
            .cloned()
            .collect();
        'sockets: for socket in ready {
            let Some(queue) = self.queues.get_mut(&socket) else {
                continue;
            };
            let mut sends = Vec::new();
            let mut full = false;
            while let Some((_, size)) = queue.front() {
                let fits = items < self.max_items && bytes + size <= self.max_bytes;
                if !fits && items > 0 {
                    full = true;
                    break;
                }
                let Some((send, size)) = queue.pop_front() else {
                    break;
                };
                items += 1;
                bytes += size;
                sends.push(send);
            }
            if queue.is_empty() {
                self.queues.remove(&socket);
            }
            if !sends.is_empty() {
                self.in_flight.insert(socket.clone());
                batch.push((socket, sends));
            }
            if full {
                break 'sockets;
            }
        }
        if batch.is_empty() {
            return None;
        }
        self.batches_in_flight += 1;
        Some(batch)
    }

    /// Core answered a batch (or it failed): its sockets may send again.
    pub fn finish<'a>(&mut self, sockets: impl IntoIterator<Item = &'a str>) {
        for socket in sockets {
            self.in_flight.remove(socket);
        }
        self.batches_in_flight = self.batches_in_flight.saturating_sub(1);
    }

    /// Drops a closed socket's queued sends and returns them.
    pub fn discard(&mut self, socket: &str) -> Vec<T> {
        self.queues
            .remove(socket)
            .map(|q| q.into_iter().map(|(send, _)| send).collect())
            .unwrap_or_default()
    }

    /// Takes every queued send (to fail them all), leaving nothing queued.
    pub fn drain_all(&mut self) -> Batch<T> {
        std::mem::take(&mut self.queues)
            .into_iter()
            .map(|(s, q)| (s, q.into_iter().map(|(send, _)| send).collect()))
            .collect()
    }

    pub fn queued(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sockets<T>(batch: &Batch<T>) -> Vec<&str> {
        batch.iter().map(|(s, _)| s.as_str()).collect()
    }

    #[test]
    fn a_lone_send_goes_at_once() {
        let mut b = SendBatcher::new(2, 100, 1000);
        assert!(b.push("a", 1, 1));
        assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![1])]));
        assert_eq!(b.next_batch(), None);
    }

    #[test]
    fn sends_queued_meanwhile_go_together_in_order() {
        let mut b = SendBatcher::new(1, 100, 1000);
        assert!(b.push("a", 1, 1));
        let first = b.next_batch().unwrap();
        // the one batch allowed is in flight: no new loop
        assert!(!b.push("a", 2, 1));
        assert!(!b.push("b", 10, 1));
        assert!(!b.push("a", 3, 1));
        assert_eq!(b.next_batch(), None);
        b.finish(sockets(&first));
        assert_eq!(
            b.next_batch(),
            Some(vec![("a".into(), vec![2, 3]), ("b".into(), vec![10])])
        );
    }

    #[test]
    fn a_socket_in_flight_waits_while_others_go_in_a_second_batch() {
        let mut b = SendBatcher::new(2, 100, 1000);
        b.push("a", 1, 1);
        let first = b.next_batch().unwrap();
        assert!(
            !b.push("a", 2, 1),
            "a has a send in flight: its next must wait"
        );
        assert!(b.push("b", 10, 1), "b may go in a second batch");
        assert_eq!(b.next_batch(), Some(vec![("b".into(), vec![10])]));
        assert_eq!(b.next_batch(), None, "two batches in flight");
        b.finish(sockets(&first));
        assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![2])]));
    }

    #[test]
    fn a_batch_holds_at_most_max_items_and_the_rest_follows_in_order() {
        let mut b = SendBatcher::new(1, 3, 1000);
        for i in 0..5 {
            b.push("a", i, 1);
        }
        let first = b.next_batch().unwrap();
        assert_eq!(first, vec![("a".into(), vec![0, 1, 2])]);
        b.finish(sockets(&first));
        assert_eq!(b.next_batch(), Some(vec![("a".into(), vec![3, 4])]));
    }

    #[test]
    fn a_batch_stops_at_max_bytes_but_never_goes_empty() {
        let mut b = SendBatcher::new(1, 100, 10);
        b.push("a", 1, 6);
        b.push("b", 2, 6);
        b.push("c", 3, 50);
        let first = b.next_batch().unwrap();
        assert_eq!(first, vec![("a".into(), vec![1])], "6 + 6 > 10");
        b.finish(sockets(&first));
        let second = b.next_batch().unwrap();
        assert_eq!(second, vec![("b".into(), vec![2])]);
        b.finish(sockets(&second));
        // larger than the limit alone: it still goes, by itself
        assert_eq!(b.next_batch(), Some(vec![("c".into(), vec![3])]));
    }

    #[test]
    fn a_closed_socket_loses_its_queue_and_others_are_untouched() {
        let mut b = SendBatcher::new(1, 100, 1000);
        b.push("a", 1, 1);
        let first = b.next_batch().unwrap();
        b.push("a", 2, 1);
        b.push("b", 3, 1);
        assert_eq!(b.discard("a"), vec![2]);
        b.finish(sockets(&first));
        assert_eq!(b.next_batch(), Some(vec![("b".into(), vec![3])]));
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn drain_all_empties_every_queue() {
        let mut b = SendBatcher::new(1, 100, 1000);
        b.push("a", 1, 1);
        b.push("b", 2, 1);
        b.push("a", 3, 1);
        let all = b.drain_all();
        assert_eq!(all, vec![("a".into(), vec![1, 3]), ("b".into(), vec![2])]);
        assert_eq!(b.next_batch(), None);
    }
}
