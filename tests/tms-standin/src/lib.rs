//! A stand-in for the external Team Management System (TMS).
//!
//! It serves what core needs from TMS — user profiles (`GET /users/{id}`,
//! `POST /users/batch`, both behind `X-API-Key`), `/health` and a JWKS — and
//! issues dev tokens (HS256 with `JWT_SECRET`, RS256/ES256 with keys
//! generated at start). `make dev` runs it as the `tms-standin` binary; core's
//! integration tests start it in-process:
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use tms_standin::{spawn, Config, Route, TokenAlg, TokenRequest};
//!
//! let tms = spawn(Config::default()).await; // 127.0.0.1:0
//! let base = tms.base_url(); // TMS_API_URL
//! let jwks = tms.jwks_url(); // TMS_JWKS_URL
//! let hs = tms.token("alice"); // HS256, signed with tms.config().jwt_secret
//! let rs = tms.issue(&TokenRequest::new("bob").alg(TokenAlg::RS256)).unwrap();
//! tms.controls.set_down(true); // /health and user routes answer 503
//! tms.controls.set_delay(Duration::from_millis(200));
//! assert_eq!(tms.controls.requests(Route::UsersBatch), 0);
//! # }
//! ```

pub mod config;
pub mod controls;
pub mod keys;
mod routes;
pub mod tokens;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::JwkSet;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Config, ConfigError};
pub use controls::{profile, seed_users, Controls, Route, Stats};
pub use keys::{KeySet, SigningKey};
pub use routes::{router, API_KEY_HEADER, MAX_BATCH_IDS};
pub use tokens::{IssuedToken, TokenAlg, TokenError, TokenRequest};

/// The stand-in's state: configuration, controls and signing keys. Cheap to
/// clone (one `Arc`); pass it to [`router`].
#[derive(Clone)]
pub struct StandIn {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    controls: Arc<Controls>,
    keys: RwLock<KeySet>,
}

impl StandIn {
    /// A stand-in with the seeded users and the process-wide initial keys.
    /// The first call in a process generates an RSA key (about a second):
    /// from async code prefer [`spawn`], which does that off the runtime.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_parts(config, Arc::new(Controls::seeded()), KeySet::initial())
    }

    /// A stand-in over given controls and keys.
    pub fn with_parts(
        config: Config,
        controls: Arc<Controls>,
        keys: KeySet,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                controls,
                keys: RwLock::new(keys),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn controls(&self) -> &Arc<Controls> {
        &self.inner.controls
    }

    /// Signs a token for `req.sub`; an unknown user is refused unless
    /// `req.allow_unknown`.
    pub fn issue_token(&self, req: &TokenRequest) -> Result<IssuedToken, TokenError> {
        if !req.allow_unknown && !self.controls().user_exists(&req.sub) {
            return Err(TokenError::UnknownUser(req.sub.clone()));
        }
        let keys = self.keys();
        let config = self.config();
        tokens::Issuer {
            secret: &config.jwt_secret,
            issuer: config.issuer.as_deref(),
            audience: config.audience.as_deref(),
            keys: &keys,
        }
        .issue(req, unix_now())
    }

    /// The published keys (`GET /.well-known/jwks.json`).
    pub fn jwks(&self) -> JwkSet {
        self.keys().jwks()
    }

    /// The current `(RS256 kid, ES256 kid)`.
    pub fn kids(&self) -> (String, String) {
        let keys = self.keys();
        (keys.rs256.kid.clone(), keys.es256.kid.clone())
    }

    /// Switches to freshly generated RS256/ES256 keys (slow: RSA keygen) and
    /// returns their kids. Old public keys stay in the JWKS, as after a real
    /// rotation; tokens signed from now on carry the new kids.
    pub fn rotate_keys(&self) -> (String, String) {
        let mut fresh = self.keys().clone();
        fresh.rotate(); // generate outside the lock
        let kids = (fresh.rs256.kid.clone(), fresh.es256.kid.clone());
        *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        kids
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.inner.keys.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn unix_now() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// Why the stand-in could not start.
#[derive(Debug)]
pub enum SpawnError {
    Config(ConfigError),
    Bind(SocketAddr, std::io::Error),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::Config(e) => write!(f, "{e}"),
            SpawnError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// A stand-in serving on `addr` in a background task. Dropping it stops the
/// server; [`RunningStandIn::shutdown`] stops it gracefully.
pub struct RunningStandIn {
    /// The bound address (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    /// The same controls the server reads: flip them from the test.
    pub controls: Arc<Controls>,
    /// The server's state, for issuing tokens and rotating keys.
    pub standin: StandIn,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningStandIn {
    /// `http://{addr}`: core's `TMS_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://{addr}/.well-known/jwks.json`: core's `TMS_JWKS_URL`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base_url())
    }

    pub fn config(&self) -> &Config {
        self.standin.config()
    }

    /// The key the user routes expect in `X-API-Key`.
    pub fn api_key(&self) -> &str {
        &self.config().api_key
    }

    /// An HS256 token for a known user, valid for an hour. Panics for an
    /// unknown user: use [`RunningStandIn::issue`] with `allow_unknown`.
    pub fn token(&self, sub: &str) -> String {
        self.issue(&TokenRequest::new(sub))
            .unwrap_or_else(|e| panic!("tms-standin token for `{sub}`: {e}"))
            .token
    }

    pub fn issue(&self, req: &TokenRequest) -> Result<IssuedToken, TokenError> {
        self.standin.issue_token(req)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningStandIn {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts a stand-in with fresh seeded controls. The first start in a
/// process generates the RSA key on the blocking pool.
pub async fn try_spawn(config: Config) -> Result<RunningStandIn, SpawnError> {
    config.validate().map_err(SpawnError::Config)?;
    let keys = tokio::task::spawn_blocking(KeySet::initial)
        .await
        .expect("key generation task");
    let standin = StandIn::with_parts(config, Arc::new(Controls::seeded()), keys)
        .map_err(SpawnError::Config)?;
    serve(standin).await
}

/// Starts `standin` on its configured address in a background task.
pub async fn serve(standin: StandIn) -> Result<RunningStandIn, SpawnError> {
    let wanted = standin.config().addr;
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|e| SpawnError::Bind(wanted, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| SpawnError::Bind(wanted, e))?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(standin.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningStandIn {
        addr,
        controls: standin.controls().clone(),
        standin,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// [`try_spawn`] for tests: panics with the reason if it cannot start.
pub async fn spawn(config: Config) -> RunningStandIn {
    try_spawn(config)
        .await
        .unwrap_or_else(|e| panic!("tms-standin failed to start: {e}"))
}
