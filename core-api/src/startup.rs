//! `build(config)` makes the whole application, apart from `main`, so tests
//! start the very same app on port 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, Request};
use axum::{middleware, Router};
use secrecy::ExposeSecret;
use shared_types::limits::MAX_BODY_BYTES;
use shared_types::origins::AllowedOrigins;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::jwt::JwtAuthenticator;
use crate::cache::{Cache, CacheTimeouts};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Environment};
use crate::fanout::{Context as FanoutContext, Fanout};
use crate::metrics::{Metrics, ScrapeSources};
use crate::offline_push::{Context as PushContext, OfflinePush};
use crate::rate_limit::RateLimiter;
use crate::receipt_queue::ReceiptQueue;
use crate::send_queue::SendQueue;
use crate::services::calls;
use crate::services::fanout_targets::MembersAndPresence;
use crate::services::push_recipients::OfflineMembers;
use crate::state::{AppState, ReadReplica};
use crate::tms::TmsClient;
use crate::{api, internal};

mod serve;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot connect to Postgres: {0}")]
    Database(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot connect to Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot build HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cannot bind {0}: {1}")]
    Bind(std::net::SocketAddr, std::io::Error),
}

/// Connects to Postgres, applies migrations, connects to Redis and binds.
pub async fn build(config: Config) -> Result<Application, StartError> {
    let options = pg_options(&config, config.database_url.expose_secret())?;
    let db = PgPoolOptions::new()
        .max_connections(config.database_max_connections)
        .acquire_timeout(config.database_acquire_timeout)
        .connect_with(options)
        .await
        .map_err(StartError::Database)?;
    MIGRATOR.run(&db).await?;
    build_with_pool(config, db, Arc::new(SystemClock)).await
}

fn pg_options(config: &Config, url: &str) -> Result<PgConnectOptions, StartError> {
    Ok(url
        .parse::<PgConnectOptions>()
        .map_err(StartError::Database)?
        // bounds every statement server-side; the acquire timeout bounds the wait for a connection
        .options([(
            "statement_timeout",
            format!("{}ms", config.database_statement_timeout.as_millis()),
        )]))
}

/// The replica's pool, connected lazily: a replica that is down at start (or
/// later) only sends the reads to the primary.
fn read_pool(config: &Config) -> Result<Option<ReadReplica>, StartError> {
    let Some(url) = &config.database_read_url else {
        return Ok(None);
    };
    let options = pg_options(config, url.expose_secret())?;
    Ok(Some(ReadReplica::new(
        PgPoolOptions::new()
            .max_connections(config.database_max_connections)
            .acquire_timeout(config.database_acquire_timeout)
            .connect_lazy_with(options),
    )))
}

/// As `build`, on a given pool and clock (tests bring their own database).
pub async fn build_with_pool(
    config: Config,
    db: PgPool,
    clock: Arc<dyn Clock>,
) -> Result<Application, StartError> {
    let cache = Cache::connect(
        config.redis_url.expose_secret(),
        config.redis_key_prefix.clone(),
        CacheTimeouts {
            connect: config.redis_connect_timeout,
            response: config.redis_response_timeout,
        },
    )
    .await?;
    let metrics = Metrics::default();
    let tms = TmsClient::new(config.tms.clone(), metrics.clone())?;
    let jwt = Arc::new(JwtAuthenticator::new(&config.jwt, clock.clone()));
    if config.jwt.jwks_url.is_some() {
        // a TMS outage at start must not stop core: unknown kids refetch later
        jwt.refresh_keys().await;
    }
    let fanout = Fanout::start(
        config.edge_fanout_url.clone(),
        &config.fanout,
        FanoutContext {
            secret: config.internal_api_secret.clone(),
            clock: clock.clone(),
            targets: Arc::new(MembersAndPresence {
                cache: cache.clone(),
                db: db.clone(),
            }),
        },
    )?;
    let push = OfflinePush::start(
        &config.push,
        PushContext {
            clock: clock.clone(),
            recipients: Arc::new(OfflineMembers {
                db: db.clone(),
                cache: cache.clone(),
                clock: clock.clone(),
                preview_chars: config.push.preview_chars,
            }),
        },
    )?;
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| StartError::Bind(config.listen_addr, e))?;
    let sends = SendQueue::start(db.clone(), config.send_writers, config.send_batch_max);
    let receipts = ReceiptQueue::start(db.clone(), config.send_writers, config.receipt_batch_max);
    let read_db = read_pool(&config)?;
    let mut pools = vec![("main", db.clone()), ("sends", sends.pool().clone())];
    pools.extend(read_db.as_ref().map(|r| ("replica", r.pool.clone())));
    metrics.install(ScrapeSources {
        pools,
        cache: cache.clone(),
        fanout: fanout.stats(),
        push: push.stats(),
    });
    if config.metrics_token.is_none() && config.environment != Environment::Development {
        tracing::warn!("METRICS_TOKEN is unset: GET /metrics is open to anyone who reaches core");
    }
    let limits = RateLimiter::new(
        cache.clone(),
        clock.clone(),
        config.rate_limits,
        metrics.clone(),
    );
    let state = AppState {
        config: Arc::new(config),
        db,
        read_db,
        cache,
        tms,
        jwt,
        clock,
        fanout,
        push,
        local_users: Default::default(),
        replays: Default::default(),
        sends,
        receipts,
        limits,
        metrics,
        deny: Default::default(),
    };
    crate::services::deny_list::load(&state).await;
    let router = router(state.clone());
    Ok(Application {
        listener,
        router,
        state,
    })
}

pub fn router(state: AppState) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
    });
    let public: Router<AppState> = api::public_routes(Some(&state)).into();
    Router::new()
        .merge(public)
        .nest("/internal/v1", internal::router(state.clone()))
        .route_layer(middleware::from_fn(api::metrics::mark_route))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            serve::request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::metrics::track_http,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors(&state.config.allowed_origins))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

fn cors(origins: &AllowedOrigins) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(Any)
        // so browser clients can read their budget and when to retry
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ]);
    if origins.allows_any() {
        base.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .origins()
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        base.allow_origin(AllowOrigin::list(list))
    }
}

impl Application {
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets the
    /// requests in flight finish for at most `grace`; whatever still runs
    /// then is dropped (its client sees the connection close, and a send not
    /// yet committed is not acknowledged, so nothing acknowledged is lost).
    pub async fn run_with_grace(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        grace: Duration,
    ) -> std::io::Result<()> {
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<Instant>();
        let signal = async move {
            shutdown.await;
            let _ = signalled_tx.send(Instant::now());
        };
        let server = self.run_until(signal);
        tokio::pin!(server);
        let grace_over = async move {
            match signalled_rx.await {
                Ok(at) => tokio::time::sleep_until((at + grace).into()).await,
                Err(_) => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            r = &mut server => r,
            () = grace_over => {
                tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace elapsed: dropping the requests still in flight");
                Ok(())
            }
        };
        tracing::info!("core-api stopped");
        outcome
    }

    /// Serves until `shutdown` resolves; in-flight requests finish first.
    /// The ring-timeout sweeper runs as long as the server (and once at start).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let interval = self.state.config.calls.sweep_interval;
        // aborted on drop too: `run_with_grace` drops this future when the grace is over
        let _sweeper = AbortOnDrop(calls::sweeper::spawn(self.state.clone(), interval));
        let _pruner = AbortOnDrop(crate::services::sync::spawn_pruner(
            self.state.clone(),
            SYNC_PRUNE_INTERVAL,
        ));
        let header_read_timeout = self.state.config.header_read_timeout;
        serve::serve(self.listener, self.router, header_read_timeout, shutdown).await
    }
}

/// How often the change feed drops rows past `SYNC_RETENTION_DAYS`.
const SYNC_PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
