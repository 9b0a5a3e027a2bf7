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
mod tests;
