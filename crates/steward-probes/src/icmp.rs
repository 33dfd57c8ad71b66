//! ICMP ping: `count` echo requests, judged by how many came back — all lost is critical,
//! some lost a warning — with the round trip in the summary.
//!
//! Sending ICMP needs a socket the process may open: an unprivileged datagram ICMP socket
//! when `net.ipv4.ping_group_range` includes the process's group, a raw one with root or
//! CAP_NET_RAW. When neither is allowed the result is unknown, with what to set: nothing was
//! learned about the host, so it must not page anyone as if the host were down.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use steward_core::alerting::CheckStatus;
use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};

use crate::judged::Judged;
use crate::tcp::check_host;

/// At most this many echo requests in one look.
pub(crate) const MAX_COUNT: u16 = 20;
/// Requests are sent this far apart (as `ping` does), or closer when the timeout is short.
const INTERVAL: Duration = Duration::from_secs(1);
/// Stop waiting for replies this long before the probe's own timeout, so that lost replies
/// are counted as lost rather than the whole look timing out.
const MARGIN: Duration = Duration::from_millis(100);

fn default_count() -> u16 {
    3
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Icmp {
    pub host: String,
    #[serde(default = "default_count")]
    pub count: u16,
}

impl Default for Icmp {
    fn default() -> Self {
        Self {
            host: String::new(),
            count: default_count(),
        }
    }
}

impl Icmp {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_host("host", &self.host)?;
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(format!("count is 1 to {MAX_COUNT}"));
        }
        Ok(())
    }
}

pub(crate) async fn look(p: &Icmp, timeout: Duration) -> Judged {
    let started = Instant::now();
    let address = match resolve(&p.host).await {
        Ok(a) => a,
        Err(judged) => return judged,
    };
    let kind = if address.is_ipv4() {
        ICMP::V4
    } else {
        ICMP::V6
    };
    let client = match Client::new(&Config::builder().kind(kind).build()) {
        Ok(c) => c,
        Err(e) => return Judged::unknown(cannot_open(&e)),
    };
    // Replies are awaited until just before the probe's timeout; requests are spread over
    // the first part of it.
    let budget = timeout
        .saturating_sub(MARGIN)
        .saturating_sub(started.elapsed());
    let count = u32::from(p.count.max(1));
    let interval = INTERVAL.min(budget / (count + 1));
    let mut pings = tokio::task::JoinSet::new();
    for seq in 0..p.count {
        let client = client.clone();
        let wait = budget.saturating_sub(interval * u32::from(seq));
        pings.spawn(async move {
            tokio::time::sleep(interval * u32::from(seq)).await;
            let mut pinger = client.pinger(address, PingIdentifier(rand_ident())).await;
            pinger.timeout(wait);
            pinger.ping(PingSequence(seq), &[0; 56]).await
        });
    }
    let mut round_trips = Vec::new();
    let mut error = None;
    while let Some(done) = pings.join_next().await {
        match done {
            Ok(Ok((_, rtt))) => round_trips.push(rtt),
            Ok(Err(SurgeError::Timeout { .. })) => {}
            Ok(Err(e)) => error = Some(e.to_string()),
            Err(e) => error = Some(e.to_string()),
        }
    }
    let judged = judge(&p.host, p.count, &round_trips);
    match error {
        // Nothing came back because sending failed ("network unreachable"): say why.
        Some(e) if round_trips.is_empty() => Judged::critical(format!("{}: {e}", judged.summary)),
        _ => judged,
    }
}

/// The address to ping: the host as an address, or its first address.
async fn resolve(host: &str) -> Result<IpAddr, Judged> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    match tokio::net::lookup_host((host, 0)).await {
        Ok(mut addresses) => addresses
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| Judged::critical(format!("{host} has no address"))),
        Err(e) => Err(Judged::critical(format!("cannot resolve {host}: {e}"))),
    }
}

/// What to do when no ICMP socket can be opened.
/// (Linux has one `ping_group_range`, under ipv4, for ICMP and ICMPv6 sockets alike.)
fn cannot_open(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::PermissionDenied {
        "not allowed to send ICMP: allow unprivileged ping for the server's group with \
         sysctl net.ipv4.ping_group_range=\"0 2147483647\" (or a range holding its group id), \
         or give it CAP_NET_RAW"
            .to_string()
    } else {
        format!("cannot open an ICMP socket: {e}")
    }
}

/// An identifier for raw sockets' echo requests (datagram sockets get theirs from the
/// kernel); distinct between looks running at once so that replies are not mixed up.
fn rand_ident() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let salt = u16::try_from(std::process::id() & 0xffff).unwrap_or(0);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ salt
}

/// `sent` requests, these replies: all lost is critical, some lost a warning.
fn judge(host: &str, sent: u16, round_trips: &[Duration]) -> Judged {
    let received = round_trips.len();
    let sent_n = usize::from(sent);
    let lost = sent_n.saturating_sub(received);
    let loss_pct = lost * 100 / sent_n.max(1);
    if received == 0 {
        return Judged::critical(format!(
            "{host}: no reply to {sent} echo requests (100 % loss)"
        ));
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let min = round_trips.iter().map(ms).fold(f64::INFINITY, f64::min);
    let max = round_trips.iter().map(ms).fold(0.0, f64::max);
    let avg = round_trips.iter().map(ms).sum::<f64>() / received as f64;
    let status = if lost > 0 {
        CheckStatus::Warning
    } else {
        CheckStatus::Ok
    };
    Judged::new(
        status,
        format!(
            "{host}: {received} of {sent} replies ({loss_pct} % loss), round trip \
             min/avg/max {min:.2}/{avg:.2}/{max:.2} ms"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_decides_the_status() {
        let ms = Duration::from_millis;
        let all = judge("h", 3, &[ms(1), ms(2), ms(3)]);
        assert_eq!(all.status, CheckStatus::Ok);
        assert_eq!(
            all.summary,
            "h: 3 of 3 replies (0 % loss), round trip min/avg/max 1.00/2.00/3.00 ms"
        );
        let some = judge("h", 3, &[ms(1)]);
        assert_eq!(some.status, CheckStatus::Warning);
        assert!(
            some.summary.contains("1 of 3 replies (66 % loss)"),
            "{some:?}"
        );
        let none = judge("h", 3, &[]);
        assert_eq!(none.status, CheckStatus::Critical);
        assert!(none.summary.contains("100 % loss"), "{none:?}");
    }
}
