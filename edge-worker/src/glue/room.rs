//! Room: one Durable Object per conversation. Knows which sessions joined
//! `conversation:{id}` and fans events out to them in `seq` order. Its work
//! is proportional to the joined sessions, never to the member count.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use serde::Deserialize;
use shared_types::internal::{FanoutResult, FanoutTarget};
use shared_types::socket::server_events;
use worker::{durable_object, Date, DurableObject, Env, Request, Response, State, Storage};

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
    shared: Rc<Shared>,
    /// Fan-out signatures seen recently (a replay also repeats its seq, which the book drops).
    replays: RefCell<ReplayGuard>,
}

/// What the delivery task needs after the request that queued the work has
/// been answered: core's fan-out call returns at once, whatever the queue.
struct Shared {
    env: Env,
    storage: Storage,
    book: RefCell<Option<RoomBook>>,
    /// Deliveries run one at a time, in order; later ones queue here.
    queue: RefCell<VecDeque<Outgoing>>,
    delivering: Cell<bool>,
}

/// Frames for the sessions that were in the room when they were accepted: a
/// session evicted later still gets what came before its eviction.
struct Outgoing {
    namespace: String,
    frames: Vec<String>,
    recipients: Vec<String>,
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
        let shared = Rc::new(Shared {
            env,
            storage: state.storage(),
            book: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            delivering: Cell::new(false),
        });
        Self {
            state,
            shared,
            replays: RefCell::new(ReplayGuard::default()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            "/join" => {
                let entry: RoomSession = req.json().await?;
                self.shared
                    .change(|b| b.join(&entry.session_id, &entry.user_id))
                    .await?;
                Response::ok("joined")
            }
            "/leave" => {
                let entry: SessionOnly = req.json().await?;
                self.shared
                    .change(|b| b.leave_all_for_session(&entry.session_id))
                    .await?;
                Response::ok("left")
            }
            "/broadcast" => {
                let b: RoomBroadcast = req.json().await?;
                let in_room = self
                    .shared
                    .book
                    .borrow()
                    .as_ref()
                    .is_some_and(|book| book.contains_session(&b.from_session));
                if !in_room {
                    return Response::error("not in the room", 403);
                }
                self.enqueue(b.namespace, vec![b.frame], b.exclude_user.as_deref());
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
            .shared
            .book
            .borrow_mut()
            .as_mut()
            .map(|b| (b.flush_due(now), b.next_flush_at()))
            .unwrap_or_default();
        self.shared.save().await?;
        // later gaps still holding frames need their own wake-up
        self.arm_flush(flush_at, now).await?;
        if !frames.is_empty() {
            let namespace = shared_types::socket::NS_MESSAGING.to_string();
            self.enqueue(namespace, frames, None);
        }
        Response::ok("flushed")
    }
}

impl Room {
    async fn load(&self) -> worker::Result<()> {
        if self.shared.book.borrow().is_some() {
            return Ok(());
        }
        let stored: Option<RoomBook> = self.shared.storage.get(STORAGE_KEY).await?;
        let mut slot = self.shared.book.borrow_mut();
        if slot.is_none() {
            *slot = Some(stored.unwrap_or_else(|| RoomBook::with_max_hold_ms(MAX_HOLD_MS)));
        }
        Ok(())
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
            let mut slot = self.shared.book.borrow_mut();
            let Some(book) = slot.as_mut() else {
                return Response::error("room not loaded", 500);
            };
            let frames = book.publish(request.seq, frame, now);
            (frames, book.len(), book.next_flush_at())
        };
        self.shared.save().await?;
        self.arm_flush(flush_at, now).await?;
        let evicted = (request.event == server_events::MEMBER_REMOVED)
            .then(|| request.data["user_id"].as_str().map(str::to_string))
            .flatten();
        if !frames.is_empty() {
            // queued before the eviction below: the removed user's sessions get it too
            self.enqueue(request.namespace, frames, None);
        }
        if let Some(user) = evicted {
            let mut sessions = Vec::new();
            self.shared
                .change(|b| sessions = b.leave_all_for_user(&user))
                .await?;
            let notice = Evicted { conversation_id };
            for sid in sessions {
                if let Ok(stub) = objects::session(&self.shared.env, &sid) {
                    let _ = super::http::post_json(&stub, "/evicted", &notice).await;
                }
            }
        }
        Response::from_json(&FanoutResult {
            delivered: recipients as u32,
        })
    }

    /// Wakes the object when frames held behind a gap are due.
    async fn arm_flush(&self, flush_at: Option<u64>, now: u64) -> worker::Result<()> {
        if let Some(at) = flush_at {
            self.shared
                .storage
                .set_alarm(objects::offset_ms(at, now))
                .await?;
        }
        Ok(())
    }

    /// Queues frames for the sessions in the room now, and starts the delivery
    /// task unless it is running; it outlives the request (`wait_until`).
    fn enqueue(&self, namespace: String, frames: Vec<String>, exclude_user: Option<&str>) {
        let recipients = self
            .shared
            .book
            .borrow()
            .as_ref()
            .map(|b| b.recipients(exclude_user))
            .unwrap_or_default();
        if recipients.is_empty() {
            return;
        }
        self.shared.queue.borrow_mut().push_back(Outgoing {
            namespace,
            frames,
            recipients,
        });
        if !self.shared.delivering.replace(true) {
            let shared = Rc::clone(&self.shared);
            self.state
                .wait_until(async move { shared.deliver_queue().await });
        }
    }
}

impl Shared {
    async fn save(&self) -> worker::Result<()> {
        let snapshot = self.book.borrow().clone();
        if let Some(book) = snapshot {
            self.storage.put(STORAGE_KEY, &book).await?;
        }
        Ok(())
    }

    async fn change<T>(&self, f: impl FnOnce(&mut RoomBook) -> T) -> worker::Result<()> {
        if let Some(book) = self.book.borrow_mut().as_mut() {
            f(book);
        }
        self.save().await
    }

    /// The next queued delivery, merged with the ones right behind it that go
    /// to the same sessions: under load each session gets one call with many
    /// frames instead of one call per frame.
    fn next_batch(&self) -> Option<Outgoing> {
        let mut queue = self.queue.borrow_mut();
        let mut batch = queue.pop_front()?;
        while let Some(following) = queue.front() {
            if following.namespace != batch.namespace || following.recipients != batch.recipients {
                break;
            }
            if let Some(following) = queue.pop_front() {
                batch.frames.extend(following.frames);
            }
        }
        Some(batch)
    }

    /// Delivers until the queue is empty, one batch at a time, so every
    /// session sees frames in the order they were accepted.
    async fn deliver_queue(&self) {
        while let Some(next) = self.next_batch() {
            let message = Deliver {
                namespace: next.namespace,
                frames: next.frames,
            };
            let gone = objects::deliver_all(&self.env, &next.recipients, &message).await;
            if !gone.is_empty() {
                let dropped = self
                    .change(|b| {
                        for sid in &gone {
                            b.leave_all_for_session(sid);
                        }
                    })
                    .await;
                if let Err(e) = dropped {
                    worker::console_warn!("room could not drop gone sessions: {e}");
                }
            }
        }
        self.delivering.set(false);
    }
}
