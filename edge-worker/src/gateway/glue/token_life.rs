//! Runs `gateway::token_life` and the CONNECT's verification: a token is
//! verified by `runtime::auth` (shared-auth's rules and the JWKS cache), its
//! `exp` plus the leeway kept in the session.

use shared_types::socket::{Ack, ConnectError};
use shared_types::ErrorCode;

use super::recovery::ResumeOutcome;
use super::sockets::{read_session, Conn};
use super::Gateway;
use crate::gateway::dispatch::{ack_frames, AckHandle, ResumeAsk};
use crate::runtime::auth;

/// `exp + leeway` of a verified token, in unix ms.
fn valid_until_ms(expires_at: u64, leeway_secs: u64) -> u64 {
    expires_at.saturating_add(leeway_secs).saturating_mul(1_000)
}

impl Gateway {
    pub(super) async fn authenticate(
        &self,
        ws: &Conn,
        nsp: &str,
        token: &str,
        resume: Option<ResumeAsk>,
        no_recovery: bool,
    ) -> worker::Result<()> {
        let config = self.config()?;
        match auth::verify(&config, token).await {
            Ok(verified) => {
                let until = valid_until_ms(verified.expires_at, config.jwt.leeway_secs);
                let user = verified.tms_user_id.as_str();
                let first = read_session(ws)?.is_some_and(|s| s.tms_user_id.is_none());
                if first && !self.index().admits(user, config.max_sockets_per_user) {
                    let error = ConnectError::new(
                        ErrorCode::TooManySockets,
                        format!(
                            "at most {} sockets per user (MAX_SOCKETS_PER_USER): close one first",
                            config.max_sockets_per_user
                        ),
                    );
                    if let Some((frame, _)) = self.update(ws, |s| s.on_auth_failed(nsp, &error))? {
                        self.send(ws, &[frame]);
                    }
                    return self.shut(ws, 1008, "too many sockets").await;
                }
                let recovering = if config.recovery.enabled() && !no_recovery {
                    self.connect_recovering(ws, nsp, user, resume).await?
                } else {
                    ResumeOutcome::default()
                };
                let Some(((outcome, (sid, connected)), t)) = self.update(ws, |s| {
                    let pid = recovering.pid.as_deref();
                    let outcome = s.on_authenticated_with_pid(nsp, &verified.tms_user_id, pid);
                    if s.tms_user_id.as_deref() == Some(verified.tms_user_id.as_str()) {
                        s.set_token_valid_until(until);
                        if let Some(joined) = &recovering.joined {
                            crate::gateway::recovery::adopt_rooms(joined, &mut s.joined);
                        }
                    }
                    let connected = s.namespaces.contains(nsp) && !s.closed;
                    (outcome, (s.session_id.clone(), connected))
                })?
                else {
                    return Ok(());
                };
                let done = recovering.done_parked.clone();
                match recovering.replay.filter(|_| connected) {
                    // the CONNECT answer, then what was missed, before any await
                    Some(replay) => {
                        self.send(ws, &outcome.frames);
                        self.finish_resume(&sid, Some(replay), done).await?;
                        let handover = recovering.handover;
                        if let Some(h) = &handover {
                            self.inner.recovery.borrow_mut().hold(&sid, h.namespace());
                        }
                        self.apply(t).await;
                        if let Some(handover) = handover {
                            self.complete_handover(&sid, handover).await;
                        }
                    }
                    None => {
                        self.apply(t).await;
                        self.send(ws, &outcome.frames);
                        self.finish_resume(&sid, None, done).await?;
                    }
                }
            }
            Err(e) => {
                let error = ConnectError::new(e.code(), e.message());
                if let Some((frame, _)) = self.update(ws, |s| s.on_auth_failed(nsp, &error))? {
                    self.send(ws, &[frame]);
                }
            }
        }
        Ok(())
    }

    /// `refresh_token {token}`: the same verification as a CONNECT's.
    pub(super) async fn refresh_token(
        &self,
        ws: &Conn,
        ack: Option<AckHandle>,
        token: &str,
    ) -> worker::Result<()> {
        let config = self.config()?;
        let frames = match auth::verify(&config, token).await {
            Ok(verified) => {
                let until = valid_until_ms(verified.expires_at, config.jwt.leeway_secs);
                self.update(ws, |s| {
                    s.on_token_refreshed(ack.as_ref(), &verified.tms_user_id, until)
                })?
                .map(|(frames, _)| frames)
                .unwrap_or_default()
            }
            Err(e) => ack_frames(ack.as_ref(), &Ack::err(e.code(), e.message())),
        };
        self.send(ws, &frames);
        Ok(())
    }
}
