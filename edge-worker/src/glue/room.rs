//! Room: one Durable Object per conversation. Knows which sessions joined
//! `conversation:{id}` and fans events out to them in `seq` order. Its work
//! is proportional to the joined sessions, never to the member count.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use serde::Deserialize;
use shared_types::internal::{FanoutResult, FanoutTarget};
use shared_types::socket::server_events;
use worker::{durable_object, Date, DurableObject, Env, Request, Response, State};

use super::objects::{self, Deliver, Evicted, RoomBroadcast, RoomSession, SignedFanout};
use crate::replay_guard::ReplayGuard;
use crate::room::Room as RoomBook;
use crate::socketio;

const STORAGE_KEY: &str = "room";
/// How long a gap in `seq` may hold later messages back.
const MAX_HOLD_MS: u64 = 300;

#[durable_object]
pub struct Room {
    state: State,
    env: Env,
    book: RefCell<Option<RoomBook>>,
    /// Deliveries run one at a time, in order; later ones queue here.
    queue: RefCell<VecDeque<Outgoing>>,
    delivering: Cell<bool>,
    /// Fan-out signatures seen recently (a replay also repeats its seq, which the book drops).
    replays: RefCell<ReplayGuard>,
}

struct Outgoing {
    namespace: String,
    frames: Vec<String>,
    exclude_user: Option<String>,
}

#[derive(Deserialize)]
struct SessionOnly {
    session_id: String,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

impl DurableObject for Room {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            book: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            delivering: Cell::new(false),
            replays: RefCell::new(ReplayGuard::default()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            "/join" => {
                let entry: RoomSession = req.json().await?;
                self.change(|b| b.join(&entry.session_id, &entry.user_id))
                    .await?;
                Response::ok("joined")
            }
            "/leave" => {
                let entry: SessionOnly = req.json().await?;
                self.change(|b| b.leave_all_for_session(&entry.session_id))
                    .await?;
                Response::ok("left")
            }
            "/broadcast" => {
                let b: RoomBroadcast = req.json().await?;
                self.enqueue(Outgoing {
                    namespace: b.namespace,
                    frames: vec![b.frame],
                    exclude_user: b.exclude_user,
                })
                .await;
                Response::ok("sent")
            }
            "/fanout" => {
                let signed: SignedFanout = req.json().await?;
                self.fanout(signed).await
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.load().await?;
        let now = now_ms();
        let (frames, flush_at) = self
            .book
            .borrow_mut()
            .as_mut()
            .map(|b| (b.flush_due(now), b.next_flush_at()))
            .unwrap_or_default();
        self.save().await?;
        // later gaps still holding frames need their own wake-up
        if let Some(at) = flush_at {
            self.state
                .storage()
                .set_alarm(objects::offset_ms(at, now))
                .await?;
        }
        if !frames.is_empty() {
            let namespace = shared_types::socket::NS_MESSAGING.to_string();
            self.enqueue(Outgoing {
                namespace,
                frames,
                exclude_user: None,
            })
            .await;
        }
        Response::ok("flushed")
    }
}

impl Room {
    async fn load(&self) -> worker::Result<()> {
        if self.book.borrow().is_some() {
            return Ok(());
        }
        let stored: Option<RoomBook> = self.state.storage().get(STORAGE_KEY).await?;
        let mut slot = self.book.borrow_mut();
        if slot.is_none() {
            *slot = Some(stored.unwrap_or_else(|| RoomBook::with_max_hold_ms(MAX_HOLD_MS)));
        }
        Ok(())
    }

    async fn save(&self) -> worker::Result<()> {
        let snapshot = self.book.borrow().clone();
        if let Some(book) = snapshot {
            self.state.storage().put(STORAGE_KEY, &book).await?;
        }
        Ok(())
    }

    async fn change<T>(&self, f: impl FnOnce(&mut RoomBook) -> T) -> worker::Result<()> {
        if let Some(book) = self.book.borrow_mut().as_mut() {
            f(book);
        }
        self.save().await
    }

    async fn fanout(&self, signed: SignedFanout) -> worker::Result<Response> {
        let now = now_ms();
        if !self
            .replays
            .borrow_mut()
            .first_sight(&signed.signature, now)
        {
            return Response::error("replayed", 401);
        }
        let request = signed.request;
        let FanoutTarget::Conversation { conversation_id } = request.target else {
            return Response::error("not a conversation event", 400);
        };
        let frame = socketio::event(&request.namespace, &request.event, &request.data);
        let (frames, recipients, flush_at) = {
            let mut slot = self.book.borrow_mut();
            let Some(book) = slot.as_mut() else {
                return Response::error("room not loaded", 500);
            };
            let frames = book.publish(request.seq, frame, now);
            (frames, book.len(), book.next_flush_at())
        };
        self.save().await?;
        if let Some(at) = flush_at {
            self.state
                .storage()
                .set_alarm(objects::offset_ms(at, now))
                .await?;
        }
        let evicted = (request.event == server_events::MEMBER_REMOVED)
            .then(|| request.data["user_id"].as_str().map(str::to_string))
            .flatten();
        if !frames.is_empty() {
            self.enqueue(Outgoing {
                namespace: request.namespace,
                frames,
                exclude_user: None,
            })
            .await;
        }
        if let Some(user) = evicted {
            let mut sessions = Vec::new();
            self.change(|b| sessions = b.leave_all_for_user(&user))
                .await?;
            let notice = Evicted { conversation_id };
            for sid in sessions {
                if let Ok(stub) = objects::session(&self.env, &sid) {
                    let _ = super::http::post_json(&stub, "/evicted", &notice).await;
                }
            }
        }
        Response::from_json(&FanoutResult {
            delivered: recipients as u32,
        })
    }

    /// The next queued delivery, merged with the ones right behind it that go
    /// to the same sessions: under load each session gets one call with many
    /// frames instead of one call per frame.
    fn next_batch(&self) -> Option<Outgoing> {
        let mut queue = self.queue.borrow_mut();
        let mut batch = queue.pop_front()?;
        while let Some(following) = queue.front() {
            if following.namespace != batch.namespace
                || following.exclude_user != batch.exclude_user
            {
                break;
            }
            if let Some(following) = queue.pop_front() {
                batch.frames.extend(following.frames);
            }
        }
        Some(batch)
    }

    /// Queues a delivery; the first caller drains the queue, so frames reach
    /// every session in the order they were accepted.
    async fn enqueue(&self, outgoing: Outgoing) {
        self.queue.borrow_mut().push_back(outgoing);
        if self.delivering.replace(true) {
            return;
        }
        while let Some(next) = self.next_batch() {
            let recipients = self
                .book
                .borrow()
                .as_ref()
                .map(|b| b.recipients(next.exclude_user.as_deref()))
                .unwrap_or_default();
            let message = Deliver {
                namespace: next.namespace,
                frames: next.frames,
            };
            let gone = objects::deliver_all(&self.env, &recipients, &message).await;
            if !gone.is_empty() {
                let _ = self
                    .change(|b| {
                        for sid in &gone {
                            b.leave_all_for_session(sid);
                        }
                    })
                    .await;
            }
        }
        self.delivering.set(false);
    }
}
