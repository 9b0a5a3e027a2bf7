//! User: one Durable Object per `tms_user_id`. The registry of the user's
//! live sessions across devices; delivers user-addressed events to all of them.

use std::cell::RefCell;

use worker::{durable_object, Date, DurableObject, Env, Request, Response, State};

use super::objects::{self, Deliver, SignedDeliver, UserSession};
use crate::replay_guard::ReplayGuard;
use crate::user_registry::{PresenceChange, UserRegistry};

const STORAGE_KEY: &str = "registry";

#[durable_object]
pub struct User {
    state: State,
    env: Env,
    registry: RefCell<Option<UserRegistry>>,
    replays: RefCell<ReplayGuard>,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

impl DurableObject for User {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            registry: RefCell::new(None),
            replays: RefCell::new(ReplayGuard::default()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            "/register" => {
                let entry: UserSession = req.json().await?;
                let change = self.change(|r| r.register(&entry.session_id)).await?;
                self.on_presence(change).await?;
                Response::ok("registered")
            }
            "/unregister" => {
                let entry: UserSession = req.json().await?;
                let change = self
                    .change(|r| r.unregister(&entry.session_id, now_ms()))
                    .await?;
                self.on_presence(change).await?;
                Response::ok("unregistered")
            }
            "/fanout" => {
                let signed: SignedDeliver = req.json().await?;
                if !self
                    .replays
                    .borrow_mut()
                    .first_sight(&signed.signature, now_ms())
                {
                    return Response::error("replayed", 401);
                }
                self.deliver(&signed.deliver).await?;
                Response::ok("delivered")
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.load().await?;
        let change = self.change(|r| r.on_alarm(now_ms())).await?;
        self.on_presence(change).await?;
        Response::ok("checked")
    }
}

impl User {
    /// To every live session of the user; sessions that are gone are unregistered.
    async fn deliver(&self, message: &Deliver) -> worker::Result<()> {
        let sessions: Vec<String> = self
            .registry
            .borrow()
            .as_ref()
            .map(|r| r.sessions().map(str::to_string).collect())
            .unwrap_or_default();
        let gone = objects::deliver_all(&self.env, &sessions, message).await;
        for sid in gone {
            let change = self.change(|r| r.unregister(&sid, now_ms())).await?;
            self.on_presence(change).await?;
        }
        Ok(())
    }

    async fn load(&self) -> worker::Result<()> {
        if self.registry.borrow().is_some() {
            return Ok(());
        }
        let stored: Option<UserRegistry> = self.state.storage().get(STORAGE_KEY).await?;
        let mut slot = self.registry.borrow_mut();
        if slot.is_none() {
            *slot = Some(stored.unwrap_or_default());
        }
        Ok(())
    }

    async fn change(
        &self,
        f: impl FnOnce(&mut UserRegistry) -> PresenceChange,
    ) -> worker::Result<PresenceChange> {
        let (change, snapshot) = {
            let mut slot = self.registry.borrow_mut();
            let registry = slot.get_or_insert_with(UserRegistry::default);
            (f(registry), registry.clone())
        };
        self.state.storage().put(STORAGE_KEY, &snapshot).await?;
        Ok(change)
    }

    /// Presence transitions; announcing them to contacts comes with the presence feature.
    async fn on_presence(&self, change: PresenceChange) -> worker::Result<()> {
        if let PresenceChange::OfflineScheduled { at_ms } = change {
            self.state
                .storage()
                .set_alarm(objects::offset_ms(at_ms, now_ms()))
                .await?;
        }
        Ok(())
    }
}
