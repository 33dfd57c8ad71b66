//! DNS: a record resolves (to an expected value), asked of the system's resolvers
//! (`/etc/resolv.conf`) or of a given server.
//!
//! A name that does not exist, a type without records, a wrong answer, an error code and a
//! server that does not answer are all critical: users of the name fail the same way. Only
//! a probe that cannot be attempted — no resolver configured — is unknown.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use serde::{Deserialize, Serialize};

use crate::judged::Judged;

/// The record types a DNS probe asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Soa,
    Srv,
    Ptr,
    Caa,
}

impl RecordKind {
    fn record_type(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Cname => RecordType::CNAME,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Txt => RecordType::TXT,
            RecordKind::Ns => RecordType::NS,
            RecordKind::Soa => RecordType::SOA,
            RecordKind::Srv => RecordType::SRV,
            RecordKind::Ptr => RecordType::PTR,
            RecordKind::Caa => RecordType::CAA,
        }
    }
}

fn default_record() -> RecordKind {
    RecordKind::A
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    /// The name to look up, taken as fully qualified ("shop.example.com").
    pub name: String,
    #[serde(default = "default_record")]
    pub record_type: RecordKind,
    /// The server to ask; the system's resolvers when not given.
    #[serde(default)]
    pub server: Option<SocketAddr>,
    /// A value one of the records must have: an address, a name (case and a final dot do
    /// not matter), "10 mail.example.com" or just "mail.example.com" for MX; for TXT, text
    /// the record contains.
    #[serde(default)]
    pub expect: Option<String>,
}

impl Dns {
    pub(crate) fn check(&self) -> Result<(), String> {
        absolute(&self.name)?;
        if let Some(expect) = &self.expect
            && (expect.trim().is_empty() || !crate::plain_text(expect, 1024))
        {
            return Err("expect is 1 to 1024 bytes of text without control characters".into());
        }
        if self.server.is_some_and(|s| s.port() == 0) {
            return Err("server's port is 1 to 65535".into());
        }
        Ok(())
    }
}

/// The name as an absolute DNS name: a monitor asks about exactly this name, not one the
/// search domains make of it.
fn absolute(name: &str) -> Result<Name, String> {
    let invalid = || {
        if name.len() > 253 {
            "name is not a DNS name (at most 253 characters)".to_string()
        } else {
            format!("name is not a DNS name: {name:?}")
        }
    };
    if name.is_empty() || name.len() > 254 || name.chars().any(|c| c.is_whitespace()) {
        return Err(invalid());
    }
    let mut parsed = Name::from_str(name).map_err(|_| invalid())?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

pub(crate) async fn look(p: &Dns, timeout: Duration) -> Judged {
    let Ok(name) = absolute(&p.name) else {
        return Judged::unknown(format!("not a DNS name: {}", p.name));
    };
    let resolver = match resolver(p.server, timeout) {
        Ok(r) => r,
        Err(e) => return Judged::unknown(e),
    };
    let kind = p.record_type.record_type();
    let asked = match p.server {
        Some(server) => format!(" at {server}"),
        None => String::new(),
    };
    let started = Instant::now();
    let answers = match resolver.lookup(name.clone(), kind).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == kind)
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>(),
        Err(e) => return Judged::critical(failure(&e, &p.name, kind, &asked)),
    };
    let ms = started.elapsed().as_millis();
    if answers.is_empty() {
        return Judged::critical(format!("no {kind} record for {}{asked}", p.name));
    }
    let listed = list(&answers);
    match &p.expect {
        Some(expected) if !answers.iter().any(|a| matches(kind, a, expected)) => Judged::critical(
            format!("{kind} for {}{asked} is {listed}, not {expected}", p.name),
        ),
        _ => Judged::ok(format!("{kind} for {} is {listed} ({ms} ms)", p.name)),
    }
}

/// A resolver for one look: no cache (each look asks), no hosts file (a monitor checks
/// DNS, not `/etc/hosts`), one attempt bounded by the probe's timeout.
fn resolver(server: Option<SocketAddr>, timeout: Duration) -> Result<TokioResolver, String> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut ns.connections {
                connection.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                provider,
            )
        }
        None => TokioResolver::builder(provider)
            .map_err(|e| format!("no DNS resolver configured (read from /etc/resolv.conf): {e}"))?,
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    builder
        .build()
        .map_err(|e| format!("cannot set up a DNS resolver: {e}"))
}

/// Why a lookup failed, as a person reads it.
fn failure(e: &NetError, name: &str, kind: RecordType, asked: &str) -> String {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(none))
            if none.response_code == ResponseCode::NXDomain =>
        {
            format!("{name} does not exist (NXDOMAIN{asked})")
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => format!("no {kind} record for {name}{asked}"),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("DNS server{asked} answered {code} for {name}")
        }
        NetError::Timeout => format!("no DNS answer for {name}{asked} in time"),
        other => format!("DNS lookup of {name}{asked} failed: {other}"),
    }
}

/// The first answers, for a summary.
fn list(answers: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = answers
        .iter()
        .take(SHOWN)
        .map(|a| {
            if a.chars().count() > 80 {
                format!("{}…", a.chars().take(80).collect::<String>())
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if answers.len() > SHOWN {
        text.push_str(&format!(" and {} more", answers.len() - SHOWN));
    }
    text
}

/// Whether an answer is the expected value (see [`Dns::expect`]).
fn matches(kind: RecordType, answer: &str, expected: &str) -> bool {
    if kind == RecordType::TXT {
        return answer.contains(expected);
    }
    let normal = |s: &str| s.trim().trim_end_matches('.').to_ascii_lowercase();
    let (answer, expected) = (normal(answer), normal(expected));
    if answer == expected {
        return true;
    }
    // MX "10 mail.example.com": the host alone will do.
    kind == RecordType::MX
        && answer
            .split_once(' ')
            .is_some_and(|(_, host)| host == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_values_match_as_a_person_would_write_them() {
        assert!(matches(RecordType::A, "192.0.2.10", "192.0.2.10"));
        assert!(!matches(RecordType::A, "192.0.2.100", "192.0.2.10"));
        assert!(matches(
            RecordType::CNAME,
            "Shop.Example.com.",
            "shop.example.com"
        ));
        assert!(matches(
            RecordType::MX,
            "10 mail.example.com.",
            "mail.example.com"
        ));
        assert!(matches(
            RecordType::MX,
            "10 mail.example.com.",
            "10 mail.example.com."
        ));
        assert!(matches(RecordType::TXT, "v=spf1 mx -all", "v=spf1"));
    }

    #[test]
    fn a_name_is_checked_and_taken_as_absolute() {
        assert_eq!(absolute("shop.example.com").map(|n| n.is_fqdn()), Ok(true));
        assert!(absolute("").is_err());
        assert!(absolute("two words").is_err());
        assert!(absolute(&"a".repeat(300)).unwrap_err().contains("253"));
    }
}
