use core_api::config::Config;

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    core_api::telemetry::init(config.debug);
    let addr = config.listen_addr;
    let grace = config.shutdown_grace;
    let app = match core_api::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "core-api failed to start");
            std::process::exit(1);
        }
    };
    tracing::info!(%addr, port = app.port(), "core-api listening");
    let (fanout, drain) = (app.state.fanout.clone(), app.state.config.fanout.drain);
    if let Err(e) = app.run_with_grace(shutdown_signal(), grace).await {
        tracing::error!(error = %e, "server error");
        std::process::exit(1);
    }
    // the server has stopped: what requests queued for the edge still goes out
    fanout.drain(drain).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: no new connections, finishing the requests in flight");
}
