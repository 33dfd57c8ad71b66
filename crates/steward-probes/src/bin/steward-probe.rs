//! Runs one probe and prints its outcome as JSON:
//!
//! ```sh
//! steward-probe '{"kind":"icmp","host":"192.0.2.1"}' [TIMEOUT_MS]
//! ```
//!
//! For looking at a target by hand as the server would, and for tests that must run a probe
//! in a network namespace of their own or as an unprivileged user (ICMP permissions).

use std::process::ExitCode;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(json), timeout) = (args.next(), args.next()) else {
        eprintln!("usage: steward-probe PROBE_JSON [TIMEOUT_MS]");
        return ExitCode::from(2);
    };
    let probe: steward_probes::Probe = match serde_json::from_str(&json) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("steward-probe: not a probe: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = match timeout.map(|t| t.parse::<u64>()).transpose() {
        Ok(ms) => Duration::from_millis(ms.unwrap_or(10_000)),
        Err(_) => {
            eprintln!("steward-probe: TIMEOUT_MS is a number of milliseconds");
            return ExitCode::from(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match steward_probes::client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("steward-probe: no HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = steward_probes::run(&probe, &client, timeout).await;
    match serde_json::to_string(&outcome) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("steward-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
