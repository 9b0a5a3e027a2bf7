//! Room: one Durable Object per conversation. It knows which gateways hold
//! sockets joined to `conversation:{id}` (stored, written only when a
//! gateway's first socket joins or its last one leaves) and sends each event
//! once per gateway, in `seq` order, from per-gateway queues. The logic is
//! `room::RoomState` and `gateway::delivery`; this only does I/O.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use shared_types::internal::FanoutTarget;
use uuid::Uuid;
use worker::{durable_object, Date, Delay, DurableObject, Env, Request, Response, State, Storage};

use super::api::{Publish, Relay, SubscribeAnswer, Subscription};
use super::{GatewaySet, RoomEvent, RoomState};
use crate::common::queues::OrderedQueues;
use crate::common::replay_guard::ReplayGuard;
use crate::common::stats::{self, ActiveClock, LogThrottle, ObjectCounters};
use crate::gateway::delivery::{Delivered, Delivery, DeliveryItem};
use crate::runtime::config::EdgeConfig;
use crate::runtime::{http, objects};

const STORAGE_KEY: &str = "gateways";
/// How long a gap in `seq` may hold later messages back.
const MAX_HOLD_MS: u64 = 300;
/// Most items in one delivery to a gateway.
const MAX_BATCH: usize = 256;

#[durable_object]
pub struct Room {
    state: State,
    shared: Rc<Shared>,
    /// Fan-out signatures seen recently (a replay also repeats its seq, which the book drops).
    replays: RefCell<ReplayGuard>,
}

/// What the delivery tasks need after the request that queued the work has
/// been answered: core's fan-out call returns at once, whatever the queues.
struct Shared {
    env: Env,
    storage: Storage,
    conversation_id: Cell<Option<Uuid>>,
    book: RefCell<Option<RoomState>>,
    queues: RefCell<OrderedQueues<DeliveryItem>>,
    counters: RefCell<ObjectCounters>,
    active: Rc<RefCell<ActiveClock>>,
    log: Cell<LogThrottle>,
    /// A flush task is waiting for held events' hold to end.
    flush_armed: Cell<bool>,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

impl DurableObject for Room {
    fn new(state: State, env: Env) -> Self {
        let counters = ObjectCounters {
            instance: uuid::Uuid::new_v4().simple().to_string(),
            ..Default::default()
        };
        let shared = Rc::new(Shared {
            env,
            storage: state.storage(),
            conversation_id: Cell::new(None),
            book: RefCell::new(None),
            queues: RefCell::new(OrderedQueues::new()),
            counters: RefCell::new(counters),
            active: Rc::default(),
            log: Cell::new(LogThrottle::default()),
            flush_armed: Cell::new(false),
        });
        Self {
            state,
            shared,
            replays: RefCell::new(ReplayGuard::default()),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        if path == "/stats" {
            let mut counters = self.shared.counters.borrow().clone();
            counters.active_ms = self.shared.active.borrow().total_ms(now_ms());
            return Response::from_json(&counters);
        }
        let _active = objects::Active::enter(&self.shared.active);
        self.shared.counters.borrow_mut().requests += 1;
        self.load().await?;
        match path.as_str() {
            "/subscribe" | "/unsubscribe" => {
                let s: Subscription = http::request_json(&mut req).await?;
                self.shared.conversation_id.set(Some(s.conversation_id));
                let subscribe = path == "/subscribe";
                let now = now_ms();
                let (changed, evicted) = self
                    .shared
                    .with_book(|b| {
                        if subscribe {
                            let changed = b.subscribe(&s.gateway, s.version);
                            (changed, b.recent_evictions(s.conversation_id, now))
                        } else {
                            (b.unsubscribe(&s.gateway, s.version), Vec::new())
                        }
                    })
                    .unwrap_or_default();
                if changed {
                    self.shared.save().await?;
                }
                Response::from_json(&SubscribeAnswer { evicted })
            }
            "/relay" => {
                let relay: Relay = http::request_json(&mut req).await?;
                self.shared.conversation_id.set(Some(relay.conversation_id));
                let items = self.shared.with_book(|b| {
                    b.is_subscribed(&relay.from_gateway)
                        .then(|| b.relay_deliveries(&relay))
                });
                match items.flatten() {
                    Some(items) => {
                        self.enqueue(items);
                        Response::ok("relayed")
                    }
                    None => Response::error("not in the room", 403),
                }
            }
            "/publish" => {
                let publish: Publish = http::request_json(&mut req).await?;
                self.publish(publish).await
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let _active = objects::Active::enter(&self.shared.active);
        self.shared.counters.borrow_mut().alarms += 1;
        self.load().await?;
        let now = now_ms();
        let released = self
            .shared
            .with_book(|b| (b.flush_due(now), b.next_flush_at()));
        if let Some((events, flush_at)) = released {
            // later gaps still holding events need their own wake-up
            self.arm_flush(flush_at, now);
            self.deliver(events);
        }
        Response::ok("flushed")
    }
}

impl Room {
    /// One `edge_counters` line, at most once a minute (rooms have no heartbeat).
    fn log_counters(&self, now: u64) {
        let mut log = self.shared.log.get();
        if log.due(now, stats::ROOM_LOG_EVERY_MS) {
            let name = self.shared.conversation_id.get().unwrap_or_default();
            let counters = self.shared.counters.borrow();
            worker::console_log!("{}", stats::log_line("room", &name.to_string(), &counters));
        }
        self.shared.log.set(log);
    }

    async fn load(&self) -> worker::Result<()> {
        if self.shared.book.borrow().is_some() {
            return Ok(());
        }
        let stored: Option<GatewaySet> = self.shared.storage.get(STORAGE_KEY).await?;
        let mut slot = self.shared.book.borrow_mut();
        if slot.is_none() {
            *slot = Some(RoomState::new(stored.unwrap_or_default(), MAX_HOLD_MS));
        }
        Ok(())
    }

    async fn publish(&self, publish: Publish) -> worker::Result<Response> {
        let now = now_ms();
        if !self
            .replays
            .borrow_mut()
            .first_sight(&publish.signature, now)
        {
            return Response::error("replayed", 401);
        }
        let mut released = Vec::new();
        let mut flush_at = None;
        for event in publish.events {
            let FanoutTarget::Conversation {
                conversation_id,
                notify,
            } = event.target.clone()
            else {
                continue;
            };
            self.shared.conversation_id.set(Some(conversation_id));
            let (seq, after_seq) = (event.seq, event.after_seq);
            let room_event = RoomEvent::of(event, notify);
            if let Some((ready, at, holds)) = self.shared.with_book(|b| {
                let ready = b.publish_ordered(seq, after_seq, room_event, now);
                (ready, b.next_flush_at(), b.holds())
            }) {
                released.extend(ready);
                flush_at = at;
                self.shared.counters.borrow_mut().holds = holds;
            }
            self.shared.counters.borrow_mut().events += 1;
        }
        self.log_counters(now);
        self.arm_flush(flush_at, now);
        self.deliver(released);
        Response::ok("accepted")
    }

    /// Releases events held behind a gap when their hold ends, from a timer
    /// in memory: a gap costs no alarm and no storage write (the object is
    /// busy anyway while it holds events, so it is not evicted meanwhile).
    fn arm_flush(&self, flush_at: Option<u64>, now: u64) {
        let Some(first) = flush_at else {
            return;
        };
        if self.shared.flush_armed.replace(true) {
            return;
        }
        let shared = Rc::clone(&self.shared);
        let active = objects::Active::enter(&self.shared.active);
        self.state.wait_until(async move {
            let _active = active;
            let (mut at, mut now) = (first, now);
            loop {
                Delay::from(Duration::from_millis(at.saturating_sub(now))).await;
                now = now_ms();
                let released = shared.with_book(|b| (b.flush_due(now), b.next_flush_at()));
                let Some((events, next)) = released else {
                    break;
                };
                shared.deliver_now(events).await;
                match next {
                    Some(n) => at = n,
                    None => break,
                }
            }
            shared.flush_armed.set(false);
        });
    }

    fn deliver(&self, events: Vec<RoomEvent>) {
        let Some(conversation_id) = self.shared.conversation_id.get() else {
            return;
        };
        let items: Vec<(String, DeliveryItem)> = events
            .iter()
            .flat_map(|e| {
                self.shared
                    .with_book(|b| b.deliveries(conversation_id, e))
                    .unwrap_or_default()
            })
            .collect();
        self.enqueue(items);
    }

    /// Queues items per gateway and starts a delivery task for each gateway
    /// that was idle; the tasks outlive the request (`wait_until`).
    fn enqueue(&self, items: Vec<(String, DeliveryItem)>) {
        for (gateway, item) in items {
            let start = self.shared.queues.borrow_mut().push(&gateway, item);
            if start {
                let shared = Rc::clone(&self.shared);
                let active = objects::Active::enter(&self.shared.active);
                self.state.wait_until(async move {
                    shared.drain(gateway).await;
                    drop(active);
                });
            }
        }
    }
}

impl Shared {
    /// Queues released events and drains the gateways that were idle, here.
    async fn deliver_now(self: &Rc<Self>, events: Vec<RoomEvent>) {
        let Some(conversation_id) = self.conversation_id.get() else {
            return;
        };
        let mut idle = Vec::new();
        for event in &events {
            let items = self
                .with_book(|b| b.deliveries(conversation_id, event))
                .unwrap_or_default();
            for (gateway, item) in items {
                if self.queues.borrow_mut().push(&gateway, item) {
                    idle.push(gateway);
                }
            }
        }
        futures_util::future::join_all(idle.into_iter().map(|g| self.drain(g))).await;
    }

    fn with_book<T>(&self, f: impl FnOnce(&mut RoomState) -> T) -> Option<T> {
        self.book.borrow_mut().as_mut().map(f)
    }

    async fn save(&self) -> worker::Result<()> {
        let snapshot = self.book.borrow().as_ref().map(|b| b.gateways().clone());
        if let Some(gateways) = snapshot {
            self.counters.borrow_mut().storage_writes += 1;
            self.storage.put(STORAGE_KEY, &gateways).await?;
        }
        Ok(())
    }

    /// Delivers one gateway's queue, a batch at a time, so it sees the
    /// room's events in the order they were released.
    async fn drain(&self, gateway: String) {
        let timeout_ms = EdgeConfig::from_env(&self.env)
            .map(|c| c.object_timeout_ms)
            .unwrap_or(5_000);
        loop {
            let next = self.queues.borrow_mut().take(&gateway, MAX_BATCH);
            let Some(items) = next else {
                return;
            };
            let version_sent = self.with_book(|b| b.version_of(&gateway)).flatten();
            let delivery = Delivery {
                signature: None,
                gateway: Some(gateway.clone()),
                items,
            };
            let answer = match objects::gateway(&self.env, &gateway) {
                Ok(stub) => http::post_json(&stub, "/deliver", &delivery, timeout_ms).await,
                Err(e) => Err(e),
            };
            let delivered: Option<Delivered> = match answer {
                Ok(mut resp) if resp.status_code() == 200 => {
                    http::response_json(&mut resp).await.ok()
                }
                Ok(resp) => {
                    worker::console_warn!("gateway {gateway} answered {}", resp.status_code());
                    None
                }
                Err(e) => {
                    worker::console_warn!("delivery to gateway {gateway} failed: {e}");
                    None
                }
            };
            let Some(conversation_id) = self.conversation_id.get() else {
                continue;
            };
            let changed = self
                .with_book(|b| {
                    b.on_delivered(conversation_id, &gateway, version_sent, delivered.as_ref())
                })
                .unwrap_or(false);
            if changed {
                if let Err(e) = self.save().await {
                    worker::console_warn!("room could not store its gateways: {e}");
                }
            }
        }
    }
}
