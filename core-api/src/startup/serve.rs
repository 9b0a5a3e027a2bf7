//! The accept loop: axum's router on hyper with the bounds `axum::serve`
//! does not set. A connection that has not sent a request's headers within
//! `HEADER_READ_TIMEOUT_MS` is closed (hyper's `header_read_timeout`, which
//! needs the timer given here); a request that takes longer than
//! `REQUEST_TIMEOUT_MS` end to end is answered 503 (`request_timeout`).
//! Shutdown stops accepting and lets the connections finish their requests.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use shared_types::ErrorCode;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::error::AppError;
use crate::state::AppState;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the connections' requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // e.g. out of file descriptors: wait a little rather than spin
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|req: Request<Incoming>| req.map(Body::new)),
        );
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Middleware: a request past `REQUEST_TIMEOUT_MS` (reading its body
/// included) is dropped and answered 503 `SERVICE_UNAVAILABLE`.
pub async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            AppError::new(
                ErrorCode::ServiceUnavailable,
                format!("the request took longer than {} ms", limit.as_millis()),
            )
            .into_response()
        }
    }
}
