//! `oss-standin`: the OSS stand-in as a process, for `make dev` and the e2e
//! tests. Configured by `OSS_STANDIN_ADDR`, `OSS_ACCESS_KEY_ID`,
//! `OSS_ACCESS_KEY_SECRET`, `OSS_BUCKET_NAME` and `OSS_REGION` (see `.env.example`).

use oss_standin::{spawn, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("oss-standin: {e}");
            std::process::exit(2);
        }
    };
    let bucket = config.bucket.clone();
    let running = match spawn(config).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("oss-standin: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %running.addr, %bucket, "oss-standin listening");
    shutdown_signal().await;
    running.shutdown().await;
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}
