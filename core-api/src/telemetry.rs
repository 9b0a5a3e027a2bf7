use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// JSON logs to stdout; level from `RUST_LOG`, else `debug` with `DEBUG=true`
/// and `info` without.
pub fn init(debug: bool) {
    let default = if debug {
        "debug,sqlx=info,hyper=info,h2=info,tower=info"
    } else {
        "info,sqlx=warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true),
        )
        .try_init();
}
