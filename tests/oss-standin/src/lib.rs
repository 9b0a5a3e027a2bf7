//! A stand-in for Alibaba Cloud OSS, for `make dev` and the e2e tests: one
//! bucket, objects in memory, and only what a client of core does with it,
//! `PUT` and `GET` of an object through a V4 presigned URL
//! (`/{bucket}/{key}?x-oss-signature-version=OSS4-HMAC-SHA256&…`, path
//! style). Every request's signature is checked with
//! `shared_auth::oss_sig::verify`, the code core signs with; a bad, expired or
//! missing signature is refused 403 with an OSS-like XML error, as OSS does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shared_auth::oss_sig::{self, OssSigError, Received};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::cors::CorsLayer;

/// Largest object, and all objects together, the stand-in keeps in memory.
pub const MAX_OBJECT_BYTES: usize = 100 * 1024 * 1024;
pub const MAX_TOTAL_BYTES: usize = 512 * 1024 * 1024;

/// The same variables core reads (`OSS_*`), with `make dev`'s values as defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub bucket: String,
    pub region: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_key_id: "dev-oss-key".into(),
            access_key_secret: "dev-oss-secret-0123456789abcdef".into(),
            bucket: "teamchat-dev".into(),
            region: "dev-local".into(),
        }
    }
}

impl Config {
    /// `OSS_STANDIN_ADDR` (default 127.0.0.1:9100), `OSS_ACCESS_KEY_ID`,
    /// `OSS_ACCESS_KEY_SECRET`, `OSS_BUCKET_NAME`, `OSS_REGION`.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let d = Self::default();
        let addr = var("OSS_STANDIN_ADDR").unwrap_or_else(|| "127.0.0.1:9100".into());
        Ok(Self {
            addr: addr
                .parse()
                .map_err(|_| format!("OSS_STANDIN_ADDR: `{addr}` is not ip:port"))?,
            access_key_id: var("OSS_ACCESS_KEY_ID").unwrap_or(d.access_key_id),
            access_key_secret: var("OSS_ACCESS_KEY_SECRET").unwrap_or(d.access_key_secret),
            bucket: var("OSS_BUCKET_NAME").unwrap_or(d.bucket),
            region: var("OSS_REGION").unwrap_or(d.region),
        })
    }
}

struct Object {
    bytes: Bytes,
    content_type: Option<String>,
}

#[derive(Clone)]
struct StandIn {
    config: Arc<Config>,
    objects: Arc<Mutex<HashMap<String, Object>>>,
}

pub fn router(config: Config) -> Router {
    let state = StandIn {
        config: Arc::new(config),
        objects: Arc::default(),
    };
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/{bucket}/{*key}", get(get_object).put(put_object))
        .layer(DefaultBodyLimit::max(MAX_OBJECT_BYTES))
        // browsers upload straight to the bucket
        .layer(CorsLayer::permissive())
        .with_state(state)
}

pub struct Running {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// What core's `OSS_ENDPOINT` is with `OSS_URL_STYLE=path`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub async fn spawn(config: Config) -> std::io::Result<Running> {
    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = router(config);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Running { addr, stop, task })
}

async fn put_object(
    State(s): State<StandIn>,
    Path((bucket, key)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    check(&s, Method::PUT, &bucket, &key, &query, &headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut objects = s.objects.lock().unwrap_or_else(|e| e.into_inner());
    let held: usize = objects
        .iter()
        .filter(|(k, _)| **k != key)
        .map(|(_, o)| o.bytes.len())
        .sum();
    if held + body.len() > MAX_TOTAL_BYTES {
        return Err(error(
            StatusCode::INSUFFICIENT_STORAGE,
            "TooManyBytes",
            "the stand-in is full",
        ));
    }
    tracing::info!(%key, bytes = body.len(), "stored");
    objects.insert(
        key,
        Object {
            bytes: body,
            content_type,
        },
    );
    Ok(StatusCode::OK.into_response())
}

async fn get_object(
    State(s): State<StandIn>,
    Path((bucket, key)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    check(&s, Method::GET, &bucket, &key, &query, &headers)?;
    let objects = s.objects.lock().unwrap_or_else(|e| e.into_inner());
    match objects.get(&key) {
        None => Err(error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )),
        Some(o) => {
            let content_type = o
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            Ok(([(header::CONTENT_TYPE, content_type)], o.bytes.clone()).into_response())
        }
    }
}

/// The bucket, then the signature, as OSS checks them.
fn check(
    s: &StandIn,
    method: Method,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if bucket != s.config.bucket {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        ));
    }
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let received = Received {
        method: method.as_str(),
        bucket,
        key,
        query,
        headers: &headers,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let secret_of =
        |id: &str| (id == s.config.access_key_id).then(|| s.config.access_key_secret.clone());
    oss_sig::verify(&received, &s.config.region, now, secret_of)
        .map(drop)
        .map_err(|e| {
            tracing::info!(%key, %method, error = %e, "refused");
            let (status, code) = match e {
                OssSigError::Malformed => (StatusCode::BAD_REQUEST, "InvalidArgument"),
                OssSigError::SignatureMismatch => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
                OssSigError::UnknownAccessKey => (StatusCode::FORBIDDEN, "InvalidAccessKeyId"),
                OssSigError::Missing | OssSigError::WrongScope | OssSigError::Expired => {
                    (StatusCode::FORBIDDEN, "AccessDenied")
                }
            };
            error(status, code, &e.to_string())
        })
}

/// A refusal as OSS answers it: a status and a small XML document.
struct Refusal(StatusCode, String);

fn error(status: StatusCode, code: &str, message: &str) -> Refusal {
    Refusal(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
        ),
    )
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, [(header::CONTENT_TYPE, "application/xml")], self.1).into_response()
    }
}
