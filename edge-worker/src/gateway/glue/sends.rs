//! A gateway's socket sends on their way to core: serialised once on
//! arrival, batched across sockets by `crate::gateway::sends`, one call to core
//! per batch, and every send acked with its own result.

use serde::Deserialize;
use serde_json::value::RawValue;
use shared_types::api::ValidSend;
use shared_types::internal::{BatchedSend, PersistBatch};
use shared_types::socket::Ack;
use shared_types::{ApiErrorBody, ErrorCode};
use worker::Method;

use super::Gateway;
use crate::gateway::dispatch::AckHandle;
use crate::runtime::core_client::{self, CoreError};

pub(super) struct PendingSend {
    pub(super) ack: Option<AckHandle>,
    /// The `BatchedSend`, serialised once on arrival.
    pub(super) encoded: String,
}

/// Core's `PersistedBatch`, read without building its messages: each
/// message's JSON goes into its ack as core wrote it.
#[derive(Debug, Deserialize)]
struct BatchAnswer {
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

/// Calls to core with socket sends in flight at once, per gateway.
pub(super) const SEND_BATCHES_IN_FLIGHT: usize = 4;
/// Room left in a batch body for its envelope (`{"sends":[…]}`).
pub(super) const BATCH_BODY_MARGIN: usize = 1024;

impl Gateway {
    /// Queues a socket send and, unless enough batches are on their way
    /// already, sends batches to core until nothing is ready.
    pub(super) async fn queue_send(
        &self,
        session_id: &str,
        ack: Option<AckHandle>,
        user_id: String,
        payload: ValidSend,
    ) {
        let send = BatchedSend {
            user_id,
            message: payload.into_inner(),
        };
        let encoded = match serde_json::to_string(&send) {
            Ok(e) => e,
            Err(_) => {
                let error = Ack::err(ErrorCode::InternalError, "send could not be encoded");
                self.ack(session_id, ack.as_ref(), &error);
                return;
            }
        };
        let bytes = encoded.len();
        let start =
            self.inner
                .sends
                .borrow_mut()
                .push(session_id, PendingSend { ack, encoded }, bytes);
        if start {
            self.send_batches().await;
        }
    }

    /// Sends ready batches to core, one call each, and acks every send with
    /// its own result (or the call's error: no ack is left hanging).
    async fn send_batches(&self) {
        let config = match self.config() {
            Ok(c) => c,
            Err(_) => {
                let error = Ack::err(ErrorCode::InternalError, "edge is misconfigured");
                let all = self.inner.sends.borrow_mut().drain_all();
                for (session_id, sends) in all {
                    for send in sends {
                        self.ack(&session_id, send.ack.as_ref(), &error);
                    }
                }
                return;
            }
        };
        loop {
            let next = self.inner.sends.borrow_mut().next_batch();
            let Some(batch) = next else {
                return;
            };
            let encoded: Vec<&str> = batch
                .iter()
                .flat_map(|(_, sends)| sends.iter().map(|s| s.encoded.as_str()))
                .collect();
            let count = encoded.len();
            let body = PersistBatch::body_from_encoded(&encoded);
            {
                let mut counters = self.inner.counters.borrow_mut();
                counters.send_batches += 1;
                counters.sends += count as u64;
            }
            let answer: Result<BatchAnswer, CoreError> = core_client::call_with_body(
                &config,
                Method::Post,
                "/internal/v1/messages/batch",
                "",
                body.as_bytes(),
            )
            .await;
            let mut results = match answer {
                Ok(b) if b.results.len() == count => Ok(b.results.into_iter()),
                Ok(b) => Err(CoreError::unavailable(format!(
                    "{} results for {count} sends",
                    b.results.len()
                ))),
                Err(e) => Err(e),
            };
            for (session_id, sends) in &batch {
                let Some(ws) = self.socket(session_id) else {
                    continue;
                };
                for send in sends {
                    let Some(ack) = &send.ack else {
                        continue;
                    };
                    let frame = match &mut results {
                        Ok(each) => match each.next() {
                            Some(result) => ack_frame(ack, result),
                            None => ack.frame(&CoreError::unavailable("missing result").ack()),
                        },
                        Err(e) => ack.frame(&e.clone().ack()),
                    };
                    let _ = ws.send_with_str(&frame);
                }
            }
            self.inner
                .sends
                .borrow_mut()
                .finish(batch.iter().map(|(s, _)| s.as_str()));
        }
    }
}

/// A send's ACK frame from its result in core's batch answer.
fn ack_frame(ack: &AckHandle, result: SendResult) -> String {
    match (result.data, result.error) {
        (_, Some(e)) => ack.frame(&Ack::err_with_details(e.code, e.message, e.details)),
        (Some(persisted), None) => ack.frame_ok_raw(persisted.message.get()),
        (None, None) => ack.frame(&CoreError::unavailable("empty result").ack()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::internal::{PersistedBatch, PersistedMessage};
    use shared_types::Envelope;

    /// The edge's reading of core's answer follows `PersistedBatch`.
    #[test]
    fn core_batch_answers_read_as_raw_results() {
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
}
