//! Runs a `join_conversation` (`gateway::join`): each step the machine
//! names, until it answers the socket.

use shared_types::internal::Membership;
use shared_types::socket::Ack;
use uuid::Uuid;
use worker::Method;

use super::sockets::Conn;
use super::{now_ms, Gateway};
use crate::gateway::dispatch::AckHandle;
use crate::gateway::index::Transitions;
use crate::gateway::join::{evicted_in_answer, Join, JoinStep};
use crate::runtime::core_client::{self, CoreError};

impl Gateway {
    /// Runs a `join_conversation` (`gateway::join`: ask core once, join
    /// here, subscribe, take it back on a refusal or a recent eviction).
    pub(super) async fn join(
        &self,
        ws: &Conn,
        ack: Option<AckHandle>,
        user_id: &str,
        conversation_id: Uuid,
    ) -> worker::Result<()> {
        let (mut join, mut step) = Join::start(ack, conversation_id, now_ms());
        let mut transitions = Transitions::default();
        loop {
            step = match step {
                JoinStep::AskCore => {
                    let answer = self.membership(user_id, &join.membership_path()).await?;
                    join.on_membership(answer)
                }
                JoinStep::JoinHere => {
                    let epoch = join.removal_epoch();
                    let joined = self.update(ws, |s| {
                        let frames = s.on_join_confirmed(join.ack(), conversation_id);
                        s.on_verified(conversation_id, epoch);
                        frames
                    })?;
                    join.on_joined(joined.and_then(|(frames, t)| {
                        transitions = t;
                        frames
                    }))
                }
                JoinStep::Subscribe => {
                    let t = std::mem::take(&mut transitions);
                    let (took, named) = self.apply_for_join(t).await;
                    let since = join.started_at();
                    let evicted =
                        self.inner
                            .evictions
                            .borrow()
                            .since(conversation_id, user_id, since)
                            || evicted_in_answer(&named, user_id, now_ms().saturating_sub(since));
                    join.on_subscribed(took, evicted)
                }
                JoinStep::Leave => {
                    if let Some((_, t)) = self.update(ws, |s| s.on_evicted(conversation_id))? {
                        self.apply(t).await;
                    }
                    join.on_left()
                }
                JoinStep::Reply(frames) => {
                    self.send(ws, &frames);
                    return Ok(());
                }
                JoinStep::Stop => return Ok(()),
            };
        }
    }

    /// Core's answer about the user's membership, or its error as an ack.
    async fn membership(
        &self,
        user_id: &str,
        path: &str,
    ) -> worker::Result<Result<Membership, Ack>> {
        let config = self.config()?;
        let answer = core_client::call::<(), _>(&config, Method::Get, path, user_id, None).await;
        Ok(answer.map_err(CoreError::ack))
    }
}
