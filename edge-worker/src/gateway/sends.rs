//! A gateway's socket sends on their way to core, batched across sockets.
//!
//! One call to core per message made a socket's throughput one message per
//! round trip and the gateway's cost one subrequest per message. Instead the
//! gateway sends whatever its sockets have queued as one batch, with a few
//! batches in flight at once. A socket's sends keep their order: a socket
//! with a send in flight contributes nothing to the next batch until that
//! batch is answered, and within a batch its sends stay in order (core stores
//! each sender's sends of a batch one after the other).
//!
//! Core answers a batch with one result per send, in the batch's order;
//! `batch_acks` turns that answer into each send's ACK frame.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Deserialize;
use serde_json::value::RawValue;
use shared_types::api::ValidSend;
use shared_types::internal::BatchedSend;
use shared_types::socket::Ack;
use shared_types::{ApiErrorBody, ErrorCode};

use crate::gateway::dispatch::{ack_frames, core_unavailable, AckHandle};

/// Calls to core with socket sends in flight at once, per gateway.
pub const SEND_BATCHES_IN_FLIGHT: usize = 4;
/// Room left in a batch body for its envelope (`{"sends":[…]}`).
pub const BATCH_BODY_MARGIN: usize = 1024;

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

/// A socket's send waiting for core: the `BatchedSend`, serialised once
/// on arrival, and where its answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSend {
    pub ack: Option<AckHandle>,
    pub encoded: String,
}

impl PendingSend {
    /// The send to queue, or the frames refusing one that could not be encoded.
    pub fn encode(
        ack: Option<AckHandle>,
        user_id: String,
        payload: ValidSend,
    ) -> Result<Self, Vec<String>> {
        let send = BatchedSend {
            user_id,
            message: payload.into_inner(),
        };
        match serde_json::to_string(&send) {
            Ok(encoded) => Ok(Self { ack, encoded }),
            Err(_) => {
                let error = Ack::err(ErrorCode::InternalError, "send could not be encoded");
                Err(ack_frames(ack.as_ref(), &error))
            }
        }
    }
}

/// Core's `PersistedBatch`, read without building its messages: each
/// message's JSON goes into its ack as core wrote it.
#[derive(Debug, Deserialize)]
pub struct BatchAnswer {
    results: Vec<SendResult>,
}

#[derive(Debug, Deserialize)]
struct SendResult {
    #[serde(default)]
    data: Option<Persisted>,
    #[serde(default)]
    error: Option<ApiErrorBody>,
}

#[derive(Debug, Deserialize)]
struct Persisted {
    message: Box<RawValue>,
}

/// The ACK frames answering one batch, and what was wrong with core's
/// answer (for the log; the clients only see `CORE_UNAVAILABLE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchAcks {
    /// (socket id, frame), in the batch's order; sends without an ack have none.
    pub frames: Vec<(String, String)>,
    pub problems: Vec<String>,
}

/// Each send's ACK frame from core's answer to `batch` (or from the error
/// that replaced it). The n-th result answers the n-th send of the batch,
/// whether or not that send asked for an ack or its socket is still open;
/// an answer with another number of results answers none of them.
pub fn batch_acks(batch: &Batch<PendingSend>, answer: Result<BatchAnswer, Ack>) -> BatchAcks {
    let count: usize = batch.iter().map(|(_, sends)| sends.len()).sum();
    let mut acks = BatchAcks::default();
    let mut results = match answer {
        Ok(answer) if answer.results.len() == count => Ok(answer.results.into_iter()),
        Ok(answer) => {
            let why = format!("{} results for {count} sends", answer.results.len());
            acks.problems.push(why);
            Err(core_unavailable())
        }
        Err(error) => Err(error),
    };
    for (session_id, sends) in batch {
        for send in sends {
            let result = results.as_mut().map(|each| each.next());
            let Some(ack) = &send.ack else {
                continue;
            };
            let frame = match result {
                Ok(Some(result)) => match result_frame(ack, result) {
                    Ok(frame) => frame,
                    Err(why) => {
                        acks.problems.push(why.into());
                        ack.frame(&core_unavailable())
                    }
                },
                Ok(None) => ack.frame(&core_unavailable()),
                Err(error) => ack.frame(error),
            };
            acks.frames.push((session_id.clone(), frame));
        }
    }
    acks
}

/// A send's ACK frame from its result, or why the result is unusable.
fn result_frame(ack: &AckHandle, result: SendResult) -> Result<String, &'static str> {
    match (result.data, result.error) {
        (_, Some(e)) => Ok(ack.frame(&Ack::err_with_details(e.code, e.message, e.details))),
        (Some(persisted), None) => Ok(ack.frame_ok_raw(persisted.message.get())),
        (None, None) => Err("empty result"),
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

    fn pending(ack_id: Option<u64>) -> PendingSend {
        PendingSend {
            ack: ack_id.map(|id| AckHandle {
                nsp: "/messaging".into(),
                id,
            }),
            encoded: String::new(),
        }
    }

    fn answer(json: &str) -> Result<BatchAnswer, Ack> {
        Ok(serde_json::from_str(json).unwrap())
    }

    /// The edge's reading of core's answer follows `PersistedBatch`.
    #[test]
    fn core_batch_answers_read_as_raw_results() {
        use shared_types::internal::{PersistedBatch, PersistedMessage};
        use shared_types::Envelope;
        let message: shared_types::api::Message = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "conversation_id": "00000000-0000-0000-0000-000000000002",
            "sender_id": "alice", "type": "text", "content": "hi", "seq": 1,
            "created_at": "2026-12-02T00:00:00Z"
        }))
        .unwrap();
        let answer = PersistedBatch {
            results: vec![
                Envelope::ok(PersistedMessage {
                    message: message.clone(),
                    created: true,
                }),
                Envelope::failure(ApiErrorBody::new(ErrorCode::RateLimited, "slow down")),
            ],
        };
        let text = serde_json::to_string(&Envelope::ok(answer)).unwrap();
        let read: Envelope<BatchAnswer> = serde_json::from_str(&text).unwrap();
        let mut results = read.data.unwrap().results.into_iter();
        let first = results.next().unwrap();
        let raw = first.data.unwrap().message;
        let again: shared_types::api::Message = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(again, message);
        let second = results.next().unwrap();
        assert_eq!(second.error.unwrap().code, ErrorCode::RateLimited);
        assert!(second.data.is_none());
    }

    /// The n-th result answers the n-th send, also after a send that asked
    /// for no ack: each ack gets its own message, as core wrote it.
    #[test]
    fn each_send_is_acked_with_its_own_result() {
        let batch = vec![
            ("s1".to_owned(), vec![pending(Some(1)), pending(None)]),
            ("s2".to_owned(), vec![pending(Some(7))]),
        ];
        let acks = batch_acks(
            &batch,
            answer(
                r#"{"results":[
                    {"data":{"message":{"id":"m1"},"created":true}},
                    {"data":{"message":{"id":"m2"},"created":true}},
                    {"error":{"code":"RATE_LIMITED","message":"slow down","details":{"retry_after_ms":40}}}
                ]}"#,
            ),
        );
        assert_eq!(
            acks.frames,
            vec![
                (
                    "s1".to_owned(),
                    r#"43/messaging,1[{"ok":true,"data":{"id":"m1"}}]"#.to_owned()
                ),
                (
                    "s2".to_owned(),
                    r#"43/messaging,7[{"ok":false,"error":{"code":"RATE_LIMITED","message":"slow down","details":{"retry_after_ms":40}}}]"#
                        .to_owned()
                ),
            ]
        );
        assert!(acks.problems.is_empty());
    }

    #[test]
    fn a_miscounted_or_failed_answer_acks_every_send_with_the_error() {
        let batch = vec![("s1".to_owned(), vec![pending(Some(1)), pending(Some(2))])];
        let unavailable = |id: u64| {
            format!(
                r#"43/messaging,{id}[{{"ok":false,"error":{{"code":"CORE_UNAVAILABLE","message":"core is unavailable, retry later"}}}}]"#
            )
        };
        let short = batch_acks(
            &batch,
            answer(r#"{"results":[{"data":{"message":{"id":"m1"}}}]}"#),
        );
        let frames: Vec<&str> = short.frames.iter().map(|(_, f)| f.as_str()).collect();
        assert_eq!(frames, [unavailable(1), unavailable(2)]);
        assert_eq!(short.problems, ["1 results for 2 sends"]);

        let limited = Ack::err(ErrorCode::RateLimited, "slow down");
        let failed = batch_acks(&batch, Err(limited));
        assert_eq!(
            failed.frames[1].1,
            r#"43/messaging,2[{"ok":false,"error":{"code":"RATE_LIMITED","message":"slow down"}}]"#
        );

        let empty = batch_acks(&batch, answer(r#"{"results":[{},{"data":{"message":1}}]}"#));
        assert_eq!(empty.frames[0].1, unavailable(1));
        assert_eq!(empty.frames[1].1, r#"43/messaging,2[{"ok":true,"data":1}]"#);
        assert_eq!(empty.problems, ["empty result"]);
    }

    #[test]
    fn a_send_is_encoded_once_with_its_sender() {
        let message: shared_types::api::SendMessage = serde_json::from_value(serde_json::json!({
            "conversation_id": "00000000-0000-0000-0000-000000000002",
            "type": "text", "content": "hi"
        }))
        .unwrap();
        let payload = ValidSend::try_from(message).unwrap();
        let send = PendingSend::encode(None, "alice".into(), payload).unwrap();
        let sent: BatchedSend = serde_json::from_str(&send.encoded).unwrap();
        assert_eq!(sent.user_id, "alice");
        assert_eq!(sent.message.content.as_deref(), Some("hi"));
    }
}
