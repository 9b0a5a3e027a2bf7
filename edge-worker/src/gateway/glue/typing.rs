//! Runs a typing change (`gateway::typing`): this gateway's sockets, then
//! the Room's relay to the others.

use uuid::Uuid;

use super::Gateway;
use crate::gateway::dispatch::AckHandle;
use crate::gateway::typing::{Typing, TypingStep};
use crate::runtime::{http, objects};

impl Gateway {
    /// Runs a typing change (`gateway::typing`): this gateway's sockets
    /// first, then the Room relays it to the other gateways; no call to core.
    pub(super) async fn typing(
        &self,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
        typing: bool,
    ) -> Vec<String> {
        let (mut typing, mut step) =
            Typing::start(ack, &self.name(), user_id, conversation_id, typing);
        let local = typing.local();
        let plan = self.index().plan(&local);
        for (sid, frame) in &plan.sends {
            if let Some(conn) = self.socket(sid) {
                conn.send_frame(frame);
            }
        }
        let timeout = self.config().map(|c| c.object_timeout_ms).unwrap_or(5_000);
        loop {
            step = match step {
                TypingStep::Relay => {
                    let answer = match objects::room(&self.inner.env, &conversation_id) {
                        Ok(stub) => http::post_json(&stub, "/relay", typing.relay(), timeout).await,
                        Err(e) => Err(e),
                    };
                    typing.on_relayed(answer.ok().map(|r| r.status_code()))
                }
                TypingStep::SubscribeAgain => {
                    self.subscribe_again(conversation_id).await;
                    typing.on_subscribed()
                }
                TypingStep::Reply(frames) => return frames,
            };
        }
    }
}
