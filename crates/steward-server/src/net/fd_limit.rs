//! Open connections need file descriptors. Many systems start a service with a soft limit of
//! 1024 — below the default connection limit, so a flood would exhaust descriptors (and the
//! database could no longer open files) before the limit refused anything. The soft limit is
//! raised to the hard one, and if even that is too low the connection limit shrinks to fit.

/// Descriptors kept for everything that is not a connection: the database, its WAL, logs,
/// the certificate files, the listener itself.
const RESERVED: u64 = 128;

/// The connection limit that fits the process's open-file limit (raised if allowed).
pub fn fit_connections(wanted: usize) -> usize {
    let Some(available) = raise_limit() else {
        return wanted;
    };
    let fits = usize::try_from(available.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    if fits < wanted {
        tracing::warn!(
            wanted,
            fits,
            "the open-file limit allows fewer connections than max_connections; using {fits} \
             (raise the limit, e.g. LimitNOFILE= in the service unit)"
        );
        return fits.max(1);
    }
    wanted
}

/// Raises the soft open-file limit to the hard one; returns the soft limit now in force
/// (`None` for no limit or where there is no such limit).
#[cfg(unix)]
fn raise_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if limit.maximum.is_none_or(|max| max > current) {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum;
        }
    }
    Some(current)
}

#[cfg(not(unix))]
fn raise_limit() -> Option<u64> {
    None
}
