//! Open connections counted globally and per source address. A connection over either
//! limit is closed as soon as it is accepted, so one client cannot hold every file
//! descriptor (or every slot) while others wait.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

use ipnet::IpNet;
use tokio::sync::Notify;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections` already.
    Total,
    /// This source holds `max_connections_per_address` already.
    PerAddress,
}

/// Shared by the accept loop; cheap to clone.
#[derive(Clone)]
pub struct ConnectionLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    max_total: usize,
    max_per_source: usize,
    /// Sources not limited per address (trusted proxies carry many clients).
    exempt: Vec<IpNet>,
    counts: Mutex<Counts>,
    /// Woken when the last connection closes (graceful stop waits for it).
    idle: Notify,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
pub struct ConnectionSlot {
    inner: Arc<Inner>,
    /// `None` for an exempt source.
    source: Option<IpAddr>,
}

impl ConnectionLimiter {
    pub fn new(max_total: usize, max_per_source: usize, exempt: Vec<IpNet>) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_total,
                max_per_source,
                exempt,
                counts: Mutex::new(Counts::default()),
                idle: Notify::new(),
            }),
        }
    }

    /// Admits a connection from `peer`, or says which limit it is over.
    pub fn try_admit(&self, peer: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let peer = peer.to_canonical();
        let source = if self.inner.exempt.iter().any(|net| net.contains(&peer)) {
            None
        } else {
            Some(source_key(peer))
        };
        let mut counts = self.inner.lock();
        if counts.total >= self.inner.max_total {
            return Err(Refusal::Total);
        }
        if let Some(source) = source {
            let held = counts.per_source.entry(source).or_insert(0);
            if *held >= self.inner.max_per_source {
                return Err(Refusal::PerAddress);
            }
            *held += 1;
        }
        counts.total += 1;
        Ok(ConnectionSlot {
            inner: self.inner.clone(),
            source,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.lock().total
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            // Registered before the check, so a close between the two is not missed.
            let closed = self.inner.idle.notified();
            if self.open() == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent under every panic (each update is one statement).
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.inner.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(source) = self.source
            && let Some(held) = counts.per_source.get_mut(&source)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.per_source.remove(&source);
            }
        }
        if counts.total == 0 {
            self.inner.idle.notify_waiters();
        }
    }
}

/// What one source is: an IPv4 address, or an IPv6 /64 (one customer's network — a client
/// with a /64 would otherwise have endless addresses).
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_per_source_and_in_total_and_frees_on_drop() {
        let limiter = ConnectionLimiter::new(3, 2, vec![]);
        let a1 = limiter.try_admit(ip("10.0.0.1")).unwrap();
        let _a2 = limiter.try_admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            limiter.try_admit(ip("10.0.0.1")).err(),
            Some(Refusal::PerAddress)
        );
        // The same address written as IPv4-mapped IPv6 is the same source.
        assert_eq!(
            limiter.try_admit(ip("::ffff:10.0.0.1")).err(),
            Some(Refusal::PerAddress)
        );
        let _b = limiter.try_admit(ip("10.0.0.2")).unwrap();
        assert_eq!(
            limiter.try_admit(ip("10.0.0.3")).err(),
            Some(Refusal::Total)
        );
        drop(a1);
        assert_eq!(limiter.open(), 2);
        let _a3 = limiter.try_admit(ip("10.0.0.1")).unwrap();
    }

    #[test]
    fn a_source_is_an_ipv4_address_or_an_ipv6_slash_64() {
        // Also the key sign-in throttling counts strangers by.
        assert_eq!(source_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            source_key(ip("2001:db8:1:2:bbbb:cccc:dddd:9")),
            source_key(ip("2001:db8:1:2::5"))
        );
        assert_ne!(
            source_key(ip("2001:db8:1:3::5")),
            source_key(ip("2001:db8:1:2::5"))
        );
    }

    #[test]
    fn one_ipv6_network_is_one_source_and_proxies_are_exempt() {
        let limiter = ConnectionLimiter::new(100, 1, vec!["192.0.2.0/24".parse().unwrap()]);
        let _x = limiter.try_admit(ip("2001:db8::1")).unwrap();
        assert_eq!(
            limiter.try_admit(ip("2001:db8::2")).err(),
            Some(Refusal::PerAddress)
        );
        let _y = limiter.try_admit(ip("2001:db8:0:1::1")).unwrap();
        let proxied: Vec<_> = (0..10)
            .map(|_| limiter.try_admit(ip("192.0.2.9")).unwrap())
            .collect();
        assert_eq!(limiter.open(), 12);
        drop(proxied);
        assert_eq!(limiter.open(), 2);
    }
}
