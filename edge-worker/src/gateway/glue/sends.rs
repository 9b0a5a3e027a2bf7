//! Runs `gateway::sends`: a socket's send is queued on arrival, batches go
//! to core one call each, and every send is acked with its own result.

use shared_types::api::ValidSend;
use shared_types::internal::PersistBatch;
use shared_types::socket::Ack;
use shared_types::ErrorCode;
use worker::Method;

use super::Gateway;
use crate::gateway::dispatch::AckHandle;
use crate::gateway::sends::{batch_acks, BatchAnswer, PendingSend};
use crate::runtime::core_client::{self, CoreError};

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
        let send = match PendingSend::encode(ack, user_id, payload) {
            Ok(send) => send,
            Err(refusal) => return self.send_to(session_id, &refusal),
        };
        let bytes = send.encoded.len();
        let start = self.inner.sends.borrow_mut().push(session_id, send, bytes);
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
            let body = PersistBatch::body_from_encoded(&encoded);
            {
                let mut counters = self.inner.counters.borrow_mut();
                counters.send_batches += 1;
                counters.sends += encoded.len() as u64;
            }
            let answer: Result<BatchAnswer, CoreError> = core_client::call_with_body(
                &config,
                Method::Post,
                "/internal/v1/messages/batch",
                "",
                body.as_bytes(),
            )
            .await;
            let acks = batch_acks(&batch, answer.map_err(CoreError::ack));
            for problem in &acks.problems {
                worker::console_error!("core call failed: {problem}");
            }
            for (session_id, frame) in &acks.frames {
                self.send_to(session_id, std::slice::from_ref(frame));
            }
            self.inner
                .sends
                .borrow_mut()
                .finish(batch.iter().map(|(s, _)| s.as_str()));
        }
    }
}
