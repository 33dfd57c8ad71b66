//! The network edge: how connections are accepted and what a request must be before a
//! handler sees it. Everything an anonymous client can use up — file descriptors, memory,
//! time — is bounded here, once, for the plain and the TLS listener alike.
//!
//! - [`listen`]: the accept loop (connection limits, TLS handshake and header timeouts,
//!   graceful stop).
//! - [`conn_limit`]: connections counted globally and per source address.
//! - [`body_limit`]: request bodies refused by their declared size before they are read.
//! - [`origin`]: who the client is (trusted proxies), which names the server answers to
//!   (`Host`), and the headers every answer carries.

pub mod body_limit;
pub mod conn_limit;
mod fd_limit;
pub mod listen;
pub mod origin;
mod stall;

use std::time::Duration;

pub use origin::{ClientAddr, RequestOrigin};

/// Connection-level limits. The defaults suit a small business server; the stress benchmark
/// and tests set their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetLimits {
    /// Open connections at once, from everyone. Beyond it a new connection is closed at once.
    pub max_connections: usize,
    /// Open connections at once from one source address (TCP peer). Trusted proxies are
    /// exempt: every client behind them shares their address.
    pub max_connections_per_address: usize,
    /// A client must send a complete request head within this time — on a new connection
    /// and between requests on a kept-alive one (so it is also the idle keep-alive limit).
    pub header_timeout: Duration,
    /// A request body must have fully arrived within this time after its head; a body that
    /// trickles in is cut off. A slow answer (the agent's long-poll) is not affected.
    pub body_timeout: Duration,
    /// The same for an upload to a backup repository (`/backup/…`): a pack of up to 64 MiB
    /// over a slow or bandwidth-limited link takes minutes, not seconds.
    pub backup_body_timeout: Duration,
    /// A TLS handshake must finish within this time.
    pub tls_handshake_timeout: Duration,
    /// An answer being written must make progress within this time: a client that stops
    /// reading loses its connection.
    pub write_stall_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            // Every agent keeps a long-poll open and usually one more connection: a site of a
            // few hundred devices behind one NAT address must fit.
            max_connections_per_address: 1024,
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(60),
            // 64 MiB in 30 minutes: about 36 KiB/s, 0.3 Mbit/s, at the least.
            backup_body_timeout: Duration::from_secs(30 * 60),
            tls_handshake_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}
