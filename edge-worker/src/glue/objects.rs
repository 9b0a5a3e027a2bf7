//! Addressing the Durable Objects and the small JSON messages between them.

use serde::{Deserialize, Serialize};
use worker::{Env, Response, Stub};

use super::http::post_json;

/// A Session's socket gets these frames if it is connected to `namespace`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliver {
    pub namespace: String,
    pub frames: Vec<String>,
}

/// Room membership of one session.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomSession {
    pub session_id: String,
    pub user_id: String,
}

/// A frame from a session in the room for everyone in it except
/// `exclude_user`'s sessions. The Room refuses it (403) from a session it does not hold.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomBroadcast {
    pub namespace: String,
    pub frame: String,
    pub from_session: String,
    pub exclude_user: Option<String>,
}

/// A fan-out from core, with its signature for the replay check.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignedFanout {
    pub signature: String,
    pub request: shared_types::internal::FanoutRequest,
}

/// A user-addressed fan-out from core, with its signature for the replay check.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignedDeliver {
    pub signature: String,
    pub deliver: Deliver,
}

/// The Room dropped a session from `conversation_id` (its user left or was removed).
#[derive(Debug, Serialize, Deserialize)]
pub struct Evicted {
    pub conversation_id: uuid::Uuid,
}

/// A session (un)registering with its user.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserSession {
    pub session_id: String,
}

pub fn session(env: &Env, session_id: &str) -> worker::Result<Stub> {
    env.durable_object("SESSION")?
        .id_from_name(session_id)?
        .get_stub()
}

pub fn room(env: &Env, conversation_id: &uuid::Uuid) -> worker::Result<Stub> {
    env.durable_object("ROOM")?
        .id_from_name(&conversation_id.to_string())?
        .get_stub()
}

pub fn user(env: &Env, tms_user_id: &str) -> worker::Result<Stub> {
    env.durable_object("USER")?
        .id_from_name(tms_user_id)?
        .get_stub()
}

/// Delivers frames to one session. `Ok(false)`: the session is gone.
pub async fn deliver(env: &Env, session_id: &str, message: &Deliver) -> worker::Result<bool> {
    let resp: Response = post_json(&session(env, session_id)?, "/deliver", message).await?;
    Ok(resp.status_code() != 410)
}

/// Delivers to many sessions at once; returns the ids that are gone.
pub async fn deliver_all(env: &Env, session_ids: &[String], message: &Deliver) -> Vec<String> {
    let sends = session_ids.iter().map(|sid| async move {
        match deliver(env, sid, message).await {
            Ok(true) => None,
            Ok(false) => Some(sid.clone()),
            Err(e) => {
                worker::console_warn!("deliver to session failed: {e}");
                None
            }
        }
    });
    futures_util::future::join_all(sends)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Fire-and-forget replacement for `Date::now()` arithmetic on alarms.
pub fn offset_ms(at_ms: u64, now_ms: u64) -> i64 {
    at_ms.saturating_sub(now_ms) as i64
}
