//! Sends that arrive over a socket, through the edge: the user's socket-send
//! limit, then `messages::send`. One at a time (`/internal/v1/messages`) or a
//! gateway's batch (`/internal/v1/messages/batch`).

use std::collections::HashMap;

use futures_util::future::join_all;
use shared_types::api::SendMessage;
use shared_types::internal::BatchedSend;

use crate::error::AppResult;
use crate::models::AuthUser;
use crate::rate_limit::LimitKind;
use crate::services::messages::{self, Sent};
use crate::services::users;
use crate::state::AppState;

/// One socket send by `tms_user_id`; over the limit: `RATE_LIMITED`, nothing stored.
pub async fn send(state: &AppState, tms_user_id: &str, input: SendMessage) -> AppResult<Sent> {
    state
        .limits
        .enforce(tms_user_id, LimitKind::SocketSend)
        .await?;
    let me = AuthUser {
        tms_user_id: tms_user_id.to_owned(),
        user_id: users::local_id(state, tms_user_id).await?,
    };
    messages::send(state, &me, input).await
}

/// A gateway's batch: one answer per send, in the batch's order. Each
/// sender's sends are stored one after the other, in the batch's order (a
/// socket's sends keep their order), and different senders' sends at once,
/// so they share the send queue's group commits. A refused send fails alone.
pub async fn send_batch(state: &AppState, sends: Vec<BatchedSend>) -> Vec<AppResult<Sent>> {
    let total = sends.len();
    let mut senders: Vec<(String, Vec<(usize, SendMessage)>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (index, send) in sends.into_iter().enumerate() {
        let at = *position.entry(send.user_id.clone()).or_insert_with(|| {
            senders.push((send.user_id.clone(), Vec::new()));
            senders.len() - 1
        });
        senders[at].1.push((index, send.message));
    }
    let per_sender = senders.into_iter().map(|(user, queue)| async move {
        let mut answers = Vec::with_capacity(queue.len());
        for (index, message) in queue {
            answers.push((index, send(state, &user, message).await));
        }
        answers
    });
    let mut answers: Vec<(usize, AppResult<Sent>)> =
        join_all(per_sender).await.into_iter().flatten().collect();
    debug_assert_eq!(answers.len(), total);
    answers.sort_by_key(|(index, _)| *index);
    answers.into_iter().map(|(_, answer)| answer).collect()
}
