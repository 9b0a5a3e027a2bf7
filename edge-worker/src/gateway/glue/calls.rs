//! A socket's `/calls` events, relayed to core one at a time in the order
//! the socket sent them; core checks and records them, then pushes the
//! resulting events to the participants' `/calls` sockets.

use shared_types::socket::Ack;
use shared_types::ErrorCode;
use worker::Method;

use super::Gateway;
use crate::runtime::core_client::{self, CoreError};

impl Gateway {
    /// Drains the socket's queue, acking each request with core's answer.
    pub(super) async fn call_pending(&self, session_id: &str) {
        loop {
            let next = self.inner.calls.borrow_mut().take(session_id, 1);
            let Some(call) = next.and_then(|mut batch| batch.pop()) else {
                return;
            };
            let response = match self.config() {
                Ok(config) => {
                    let answer: Result<serde_json::Value, CoreError> = core_client::call(
                        &config,
                        Method::Post,
                        &call.request.path(),
                        &call.user_id,
                        Some(&call.request.body()),
                    )
                    .await;
                    match answer {
                        Ok(data) => Ack::ok(data),
                        Err(e) => Ack::err(e.code, e.message),
                    }
                }
                // never leave an ack hanging
                Err(_) => Ack::err(ErrorCode::InternalError, "edge is misconfigured"),
            };
            self.ack(session_id, call.ack.as_ref(), &response);
        }
    }
}
