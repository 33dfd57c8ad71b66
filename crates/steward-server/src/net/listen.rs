//! The accept loop, for plain HTTP and HTTPS alike. `axum::serve` has no connection limit
//! and no header timeout; hyper's HTTP/1 connection has the timer we need, so connections
//! are served here with it:
//!
//! - a connection over the global or per-address limit is closed as soon as it is accepted;
//! - a TLS handshake must finish within `tls_handshake_timeout`;
//! - a request head must arrive within `header_timeout` (hyper's `header_read_timeout`, which
//!   also runs while a kept-alive connection waits for its next request);
//! - a request body must arrive within `body_timeout` of its head (`DeadlineBody`), an upload
//!   to a backup repository within `backup_body_timeout`;
//! - nothing bounds how long the server takes to answer: the agent's long-poll waits there.
//!
//! Handlers still get `ConnectInfo<SocketAddr>`, the TCP peer, as with axum's own server.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::timeout::DeadlineBody;

use super::NetLimits;
use super::conn_limit::{ConnectionLimiter, ConnectionSlot, Refusal};

/// The most a connection buffers while reading (a request head must fit; hyper's default is
/// 400 KiB). Thousands of clients each sending a huge unfinished head would otherwise take
/// gigabytes; browsers' heads are a few KiB. (The buffer's allocation may round up to about
/// twice this; still bounded.)
const MAX_READ_BUFFER: usize = 64 * 1024;

/// In-flight requests get this long to finish once a stop is asked for.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// stops accepting, lets open requests finish (at most [`STOP_GRACE`]) and returns.
pub async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: NetLimits,
    trusted_proxies: Vec<IpNet>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let max_connections = super::fd_limit::fit_connections(limits.max_connections);
    let limiter = ConnectionLimiter::new(
        max_connections,
        limits.max_connections_per_address,
        trusted_proxies,
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut refusals = RefusalLog::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // Out of file descriptors (or similar): wait instead of spinning; the
                    // limits above normally keep us from getting here.
                    tracing::error!(error = %e, "accepting connections failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
        };
        let slot = match limiter.try_admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                // Dropping the stream closes it now: its descriptor is free again.
                drop(stream);
                refusals.note(refusal, peer);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            app.clone(),
            tls.clone(),
            limits.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(STOP_GRACE, limiter.all_closed())
        .await
        .is_err()
    {
        tracing::info!(
            open = limiter.open(),
            "stopping with requests still open after the grace period"
        );
    }
    Ok(())
}

/// One connection: the TLS handshake if any, then HTTP/1 until either side is done.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    _slot: ConnectionSlot,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: NetLimits,
    mut stop: watch::Receiver<bool>,
) {
    let stall = limits.write_stall_timeout;
    let Some(acceptor) = tls else {
        let io = super::stall::StallGuard::new(TokioIo::new(stream), stall);
        return http(io, peer, app, &limits, stop).await;
    };
    let handshake = tokio::select! {
        done = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream)) => done,
        () = stopped(&mut stop) => return,
    };
    match handshake {
        Ok(Ok(stream)) => {
            let io = super::stall::StallGuard::new(TokioIo::new(stream), stall);
            http(io, peer, app, &limits, stop).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

async fn http<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    limits: &NetLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (body_timeout, backup_body_timeout) = (limits.body_timeout, limits.backup_body_timeout);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        // Backup uploads are large; their handler authenticates the device before it reads
        // a byte, so only an enrolled device can hold a connection for this long.
        let timeout = if request.uri().path().starts_with(crate::backup::PATH_PREFIX) {
            backup_body_timeout
        } else {
            body_timeout
        };
        let request = request.map(|body| axum::body::Body::new(DeadlineBody::new(timeout, body)));
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_READ_BUFFER)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        () = stopped(&mut stop) => connection.as_mut().graceful_shutdown(),
    }
    // Finish the request in progress (if any), then close.
    let _ = connection.await;
}

/// Resolves when a stop has been asked for.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Errors that concern only the connection being accepted: the next accept may succeed.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Refused connections are logged at most once a minute, with a count: a flood must not
/// become a flood of log lines.
#[derive(Default)]
struct RefusalLog {
    last: Option<Instant>,
    since_last: u64,
}

impl RefusalLog {
    fn note(&mut self, refusal: Refusal, peer: SocketAddr) {
        self.since_last += 1;
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        let limit = match refusal {
            Refusal::Total => "max_connections",
            Refusal::PerAddress => "max_connections_per_address",
        };
        tracing::warn!(
            %peer,
            limit,
            refused = self.since_last,
            "connections refused: over the connection limit"
        );
        self.last = Some(Instant::now());
        self.since_last = 0;
    }
}
