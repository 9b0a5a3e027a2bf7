//! `push-standin`: the push gateway stand-in as a process, for `make dev`
//! and e2e tests. Configured by `PUSH_STANDIN_ADDR` (default
//! 127.0.0.1:9200) and `PUSH_WEBHOOK_SECRET` (the secret core signs with).

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let addr = std::env::var("PUSH_STANDIN_ADDR").unwrap_or_else(|_| "127.0.0.1:9200".into());
    let Ok(addr) = addr.parse() else {
        eprintln!("PUSH_STANDIN_ADDR: `{addr}` is not an address");
        std::process::exit(2);
    };
    let secret = match std::env::var("PUSH_WEBHOOK_SECRET") {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!("PUSH_WEBHOOK_SECRET: missing");
            std::process::exit(2);
        }
    };
    match push_standin::spawn(addr, &secret).await {
        Ok(running) => {
            tracing::info!(addr = %running.addr, "push-standin listening");
            std::future::pending::<()>().await;
        }
        Err(e) => {
            eprintln!("push-standin: {e}");
            std::process::exit(1);
        }
    }
}
