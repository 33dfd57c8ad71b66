//! Log setup: human-readable lines on stderr, level from STEWARD_LOG (or RUST_LOG).

use tracing_subscriber::EnvFilter;

pub fn init(default: &str) {
    let filter = std::env::var("STEWARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default.to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
