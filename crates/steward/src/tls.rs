//! The server's side of TLS in the binary: turning the configured [`Tls`] decision into a
//! certificate to serve, and telling the administrator what agents should pin.

use std::net::SocketAddr;
use std::sync::Arc;

use steward_server::tls::TlsIdentity;

use crate::config::{Resolved, Tls};

/// The certificate to serve with, or `None` for plain HTTP.
pub fn identity(cfg: &Resolved) -> anyhow::Result<Option<TlsIdentity>> {
    match &cfg.tls {
        Tls::Plain => Ok(None),
        Tls::BehindProxy => {
            eprintln!(
                "WARNING: serving plain HTTP on {} (--no-tls). Agent credentials and console \
                 passwords travel unencrypted unless a reverse proxy that terminates TLS is the \
                 only way to reach this port.",
                cfg.listen
            );
            tracing::warn!(listen = %cfg.listen, "TLS is off on a non-loopback address");
            Ok(None)
        }
        Tls::Files { cert, key } => Ok(Some(TlsIdentity::from_pem_files(cert, key)?)),
        Tls::SelfSigned { dir } => {
            let (identity, created) = TlsIdentity::self_signed_in(dir, &names(cfg.listen))?;
            if created {
                tracing::info!(path = %identity.cert_path.display(),
                    fingerprint = %identity.fingerprint, "self-signed TLS certificate created");
            }
            Ok(Some(identity))
        }
    }
}

/// The rustls configuration to serve `identity` with.
pub fn server_config(
    identity: Option<&TlsIdentity>,
) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    identity.map(TlsIdentity::server_config).transpose()
}

/// Names a self-signed certificate is made for: this host, `localhost`, and the listen
/// address unless it is the wildcard. Agents pin the certificate, so these matter only to
/// browsers (which still warn: nobody vouches for a self-signed certificate).
fn names(listen: SocketAddr) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = hostname() {
        names.push(host);
    }
    names.push("localhost".to_string());
    if !listen.ip().is_unspecified() {
        names.push(listen.ip().to_string());
    }
    names.dedup();
    names
}

/// This machine's host name, if it is one a certificate can carry.
pub fn hostname() -> Option<String> {
    sysinfo::System::host_name()
        .ok()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        })
}

/// The base URL for `addr`, by scheme.
pub fn base_url(addr: SocketAddr, identity: Option<&TlsIdentity>) -> String {
    let scheme = if identity.is_some() { "https" } else { "http" };
    format!("{scheme}://{addr}/")
}

/// Prints where the server listens and, over HTTPS, the certificate fingerprint with the
/// enroll command that pins it.
pub fn announce(addr: SocketAddr, identity: Option<&TlsIdentity>) {
    eprintln!("Steward server listening on {}", base_url(addr, identity));
    let Some(identity) = identity else { return };
    let host = if addr.ip().is_unspecified() {
        hostname().unwrap_or_else(|| "SERVER".to_string())
    } else {
        addr.ip().to_string()
    };
    eprintln!(
        "  TLS certificate {} ({})",
        identity.fingerprint,
        identity.cert_path.display()
    );
    eprintln!(
        "  Enroll agents with: STEWARD_ENROLL_TOKEN=TOKEN steward agent enroll --server https://{host}:{} --pin {}",
        addr.port(),
        identity.fingerprint
    );
}
