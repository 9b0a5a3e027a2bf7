//! `tms-standin`: the TMS stand-in as a process, for `make dev` and e2e tests.
//! Configured by `TMS_STANDIN_ADDR`, `TMS_API_KEY`, `JWT_SECRET`,
//! `TMS_ISSUER`, `TMS_AUDIENCE`, `TMS_WEBHOOK_URL` and `TMS_WEBHOOK_SECRET`
//! (see `.env.example`).

use tms_standin::{try_spawn, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(false)
        .init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let running = match try_spawn(config).await {
        Ok(running) => running,
        Err(e) => {
            tracing::error!(error = %e, "tms-standin failed to start");
            eprintln!("tms-standin: {e}");
            std::process::exit(1);
        }
    };
    let (rs256_kid, es256_kid) = running.standin.kids();
    tracing::info!(
        addr = %running.addr,
        issuer = ?running.config().issuer,
        audience = ?running.config().audience,
        %rs256_kid,
        %es256_kid,
        "tms-standin listening"
    );

    shutdown_signal().await;
    tracing::info!("tms-standin shutting down");
    running.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
