//! Network monitors: a [`Probe`] says what to look at (an HTTP(S) address, a TLS
//! certificate, a TCP port, a DNS record, a host answering ping), and [`run`] looks once and
//! judges what it saw into a [`CheckStatus`] with a line for people.
//!
//! A probe never fails as such: a refused connection, a timeout or a wrong answer is a
//! result (critical, or warning where the probe has thresholds), and a probe that could not
//! be attempted (an address that does not parse, no permission to send ICMP, no resolver
//! configured) is unknown — never critical, since nothing was learned about the target.
//!
//! In a crate of its own so that the network dependencies (TLS inspection, DNS, ICMP) are
//! built once, not with every change to the server, and so that an agent can run the same
//! probes behind a site's firewall. One module per kind of probe; [`Probe::check`] validates
//! settings before they are stored (the config loader and the API call it).
//!
//! The process must have chosen its rustls crypto provider first (the `steward` binary
//! installs ring's at start): TLS probes and HTTPS use it.

mod cert;
mod dns;
mod http;
mod icmp;
mod judged;
mod roots;
mod tcp;
mod tls;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use steward_core::alerting::CheckStatus;

pub use dns::{Dns, RecordKind};
pub use http::Http;
pub use icmp::Icmp;
pub use tcp::Tcp;
pub use tls::Tls;

use judged::Judged;

/// What to look at. Stored as JSON (`{"kind": "http", "url": …}`), so a field added later
/// has a default and older stored probes still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Probe {
    /// An HTTP(S) request: status, keyword, JSON value, latency, and for https the
    /// certificate.
    Http(Http),
    /// A TCP connection: OK when it opens.
    Tcp(Tcp),
    /// A TLS handshake: the certificate's validity and how soon it expires.
    Tls(Tls),
    /// A DNS lookup: the record resolves (to an expected value).
    Dns(Dns),
    /// ICMP echo requests: loss and round trip.
    Icmp(Icmp),
}

impl Probe {
    /// The kind's name, as in the config file and the store ("http", "tcp", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
            Probe::Tls(_) => "tls",
            Probe::Dns(_) => "dns",
            Probe::Icmp(_) => "icmp",
        }
    }

    /// Whether the settings make sense; the reason names the field that does not.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Probe::Http(p) => p.check(),
            Probe::Tcp(p) => p.check(),
            Probe::Tls(p) => p.check(),
            Probe::Dns(p) => p.check(),
            Probe::Icmp(p) => p.check(),
        }
    }
}

/// What one look saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub status: CheckStatus,
    /// "HTTP 200 in 12 ms", "connection refused", …
    pub summary: String,
    pub latency_ms: u64,
}

/// Looks once, giving up after `timeout`. Never panics; always returns within `timeout`
/// (and a few milliseconds).
pub async fn run(probe: &Probe, client: &reqwest::Client, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let judged = match tokio::time::timeout(timeout, look(probe, client, timeout)).await {
        Ok(judged) => judged,
        Err(_) => Judged::critical(format!("no answer within {} ms", timeout.as_millis())),
    };
    Outcome {
        status: judged.status,
        summary: judged.summary,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn look(probe: &Probe, client: &reqwest::Client, timeout: Duration) -> Judged {
    if let Err(reason) = probe.check() {
        return Judged::unknown(format!("cannot run: {reason}"));
    }
    match probe {
        Probe::Http(p) => http::look(p, client).await,
        Probe::Tcp(p) => tcp::look(p).await,
        Probe::Tls(p) => tls::look(p).await,
        Probe::Dns(p) => dns::look(p, timeout).await,
        Probe::Icmp(p) => icmp::look(p, timeout).await,
    }
}

/// The client probes share: no redirects followed past five, no proxy from the environment
/// (a probe looks at the target itself), its own timeout per look.
///
/// The process must have chosen its TLS crypto provider first (the `steward` binary installs
/// ring's at start).
pub fn client() -> reqwest::Result<reqwest::Client> {
    client_builder().build()
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("steward-probe/", env!("CARGO_PKG_VERSION")))
}

/// `true` when `text` is at most `max` bytes and has no control characters: settings are
/// shown in the console and written into summaries.
fn plain_text(text: &str, max: usize) -> bool {
    text.len() <= max && !text.chars().any(char::is_control)
}
