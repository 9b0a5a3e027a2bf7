//! Prometheus metrics of one core process (`prometheus-client`), served on
//! `GET /metrics`. Each app has its own registry, not a process-wide one, so
//! tests that run several apps in one process read exact values.
//!
//! Request-path counters are updated where things happen; pool use, Redis
//! health and the push lanes' counters are read at scrape time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sqlx::PgPool;

use crate::cache::Cache;
use crate::fanout::Stats as FanoutStats;
use crate::offline_push::PushStats;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route's pattern (`/api/v1/messages/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TmsLabels {
    /// `user`, `users_batch`, `health`.
    pub op: &'static str,
    /// `ok`, `not_found`, `error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// `profile`, `profile_stale`, `membership`.
    pub cache: &'static str,
    /// `hit`, `miss`, `error` (Redis unavailable: the fallback answered).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `api`, `socket_send`, `upload_url`.
    pub kind: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The counters and histograms code updates; cheap to clone (shared values).
#[derive(Clone)]
pub struct Metrics {
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Histograms<RouteLabels>,
    pub messages_persisted: Counter,
    pub tms_requests: Family<TmsLabels, Counter>,
    pub tms_duration: Histograms<OpLabels>,
    pub cache_lookups: Family<CacheLabels, Counter>,
    pub rate_limited: Family<KindLabels, Counter>,
    pub rate_limit_unenforced: Family<KindLabels, Counter>,
    registry: Arc<OnceLock<Registry>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            messages_persisted: Counter::default(),
            tms_requests: Family::default(),
            tms_duration: Family::new_with_constructor(latency_histogram),
            cache_lookups: Family::default(),
            rate_limited: Family::default(),
            rate_limit_unenforced: Family::default(),
            registry: Arc::default(),
        }
    }
}

/// What is read at scrape time.
pub struct ScrapeSources {
    /// `(name, pool)`: core's pool and the send writers' pool.
    pub pools: Vec<(&'static str, PgPool)>,
    pub cache: Cache,
    /// None when core runs without the edge.
    pub fanout: Option<Arc<FanoutStats>>,
    /// None when push to offline members is off.
    pub push: Option<Arc<PushStats>>,
}

impl Metrics {
    /// Builds the registry once the sources exist; later calls change nothing.
    pub fn install(&self, sources: ScrapeSources) {
        let mut r = Registry::default();
        r.register(
            "http_requests",
            "HTTP requests by method, route pattern and status",
            self.http_requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency until the response head, by method and route pattern",
            self.http_duration.clone(),
        );
        r.register(
            "messages_persisted",
            "Messages stored (REST and socket sends, polls); retries of a client_msg_id excluded",
            self.messages_persisted.clone(),
        );
        r.register(
            "tms_requests",
            "Requests to TMS by operation and outcome",
            self.tms_requests.clone(),
        );
        r.register(
            "tms_request_duration_seconds",
            "TMS request latency by operation",
            self.tms_duration.clone(),
        );
        r.register(
            "cache_lookups",
            "Redis cache lookups by cache and result (per key)",
            self.cache_lookups.clone(),
        );
        r.register(
            "rate_limit_rejections",
            "Requests and socket sends refused by a per-user rate limit, by kind",
            self.rate_limited.clone(),
        );
        r.register(
            "rate_limit_unenforced",
            "Checks let through unchecked because Redis was unavailable (fail open), by kind",
            self.rate_limit_unenforced.clone(),
        );
        r.register_collector(Box::new(AtScrape(sources)));
        let _ = self.registry.set(r);
    }

    /// The Prometheus text format (0.0.4) of everything registered.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Some(r) = self.registry.get() {
            if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, r) {
                tracing::error!(error = %e, "metrics encoding failed");
            }
        }
        out
    }

    pub fn observe_http(&self, method: &str, route: &str, status: u16, took: Duration) {
        let (method, route) = (method.to_string(), route.to_string());
        self.http_duration
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
    }

    pub fn observe_tms(&self, op: &'static str, outcome: &'static str, took: Duration) {
        self.tms_duration
            .get_or_create(&OpLabels { op })
            .observe(took.as_secs_f64());
        self.tms_requests
            .get_or_create(&TmsLabels { op, outcome })
            .inc();
    }

    pub fn cache_lookup(&self, cache: &'static str, result: &'static str, count: u64) {
        if count > 0 {
            self.cache_lookups
                .get_or_create(&CacheLabels { cache, result })
                .inc_by(count);
        }
    }
}

/// Values read when Prometheus scrapes.
struct AtScrape(ScrapeSources);

impl std::fmt::Debug for AtScrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtScrape")
    }
}

fn gauge<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: &[(L, i64)],
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in values {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for AtScrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut connections = Vec::new();
        let mut max = Vec::new();
        for (pool, db) in &self.0.pools {
            let (size, idle) = (i64::from(db.size()), db.num_idle() as i64);
            connections.push(([("pool", *pool), ("state", "idle")], idle));
            connections.push(([("pool", *pool), ("state", "in_use")], size - idle));
            max.push((
                [("pool", *pool)],
                i64::from(db.options().get_max_connections()),
            ));
        }
        gauge(
            &mut encoder,
            "db_pool_connections",
            "Open Postgres connections by pool and state",
            &connections,
        )?;
        gauge(
            &mut encoder,
            "db_pool_max_connections",
            "Most connections each Postgres pool may open",
            &max,
        )?;
        let up = i64::from(self.0.cache.is_up());
        gauge::<[(&str, &str); 0]>(
            &mut encoder,
            "redis_up",
            "1 while Redis answers, 0 while core serves from fallbacks",
            &[([], up)],
        )?;
        let stats = self.0.fanout.as_deref();
        let read = |f: fn(&FanoutStats) -> u64| stats.map_or(0, f);
        use std::sync::atomic::Ordering::Relaxed;
        for (name, help, value) in [
            (
                "fanout_events_sent",
                "Events pushed to the edge and accepted",
                read(|s| s.events_sent.load(Relaxed)),
            ),
            (
                "fanout_batches_sent",
                "Pushes (batches of events) accepted by the edge",
                read(|s| s.batches_sent.load(Relaxed)),
            ),
            (
                "fanout_batches_failed",
                "Pushes given up after every attempt, or refused by the edge",
                read(|s| s.batches_failed.load(Relaxed)),
            ),
            (
                "fanout_events_failed",
                "Events in pushes given up after every attempt, or refused by the edge",
                read(|s| s.events_failed.load(Relaxed)),
            ),
            (
                "fanout_events_dropped",
                "Events dropped because their push lane was full or shutting down",
                read(|s| s.dropped.load(Relaxed)),
            ),
            (
                "fanout_events_unresolved",
                "Events whose user targets were dropped because presence could not be read",
                read(|s| s.unresolved.load(Relaxed)),
            ),
        ] {
            counter(&mut encoder, name, help, value)?;
        }
        let push = self.0.push.as_deref();
        let read = |f: fn(&PushStats) -> u64| push.map_or(0, f);
        for (name, help, value) in [
            (
                "push_events_sent",
                "Offline-member push events accepted by the push gateway",
                read(|s| s.events_sent.load(Relaxed)),
            ),
            (
                "push_batches_sent",
                "Push requests (batches of events) accepted by the push gateway",
                read(|s| s.batches_sent.load(Relaxed)),
            ),
            (
                "push_retries",
                "Push requests that failed and were tried again",
                read(|s| s.retries.load(Relaxed)),
            ),
            (
                "push_batches_failed",
                "Push requests given up after every attempt, or refused by the gateway",
                read(|s| s.batches_failed.load(Relaxed)),
            ),
            (
                "push_messages_dropped",
                "New messages not pushed because the push queue was full",
                read(|s| s.dropped.load(Relaxed)),
            ),
            (
                "push_messages_unresolved",
                "New messages not pushed because their recipients could not be read",
                read(|s| s.unresolved.load(Relaxed)),
            ),
        ] {
            counter(&mut encoder, name, help, value)?;
        }
        Ok(())
    }
}
