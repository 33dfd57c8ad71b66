//! Remote-access services listening beyond loopback, from `ss` (or, without it, the
//! kernel's /proc/net/tcp and tcp6). Listening is what is seen; a firewall in front may
//! still block the port, which the firewall check judges on its own.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Verdict, command, fail, file, pass, unknown};
use crate::eval::Outcome;
use crate::host::Host;

const SS: &str = "ss -Hltnu";

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listener {
    protocol: String,
    address: String,
    port: u16,
    loopback: bool,
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.address.contains(':') {
            write!(f, "{} [{}]:{}", self.protocol, self.address, self.port)
        } else {
            write!(f, "{} {}:{}", self.protocol, self.address, self.port)
        }
    }
}

fn loopback_text(address: &str) -> bool {
    address.starts_with("127.") || address == "::1" || address.starts_with("::ffff:127.")
}

/// `tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*`, `[::1]:631`, `127.0.0.53%lo:53`.
fn parse_ss(text: &str) -> Vec<Listener> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (protocol, local) = (words.first()?, words.get(4)?);
            let (address, port) = local.rsplit_once(':')?;
            let (address, interface) = address.split_once('%').unwrap_or((address, ""));
            let address = address.trim_start_matches('[').trim_end_matches(']');
            Some(Listener {
                protocol: (*protocol).to_owned(),
                address: address.to_owned(),
                port: port.parse().ok()?,
                loopback: interface == "lo" || loopback_text(address),
            })
        })
        .collect()
}

/// /proc/net/tcp{,6}: `sl local_address rem_address st …`, state 0A is LISTEN, addresses
/// in hex with each 32-bit word in host (little-endian) order.
fn parse_proc(text: &str, v6: bool) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if *words.get(3)? != "0A" {
                return None;
            }
            let (hex, port) = words.get(1)?.split_once(':')?;
            let mut bytes = Vec::new();
            for chunk in hex.as_bytes().chunks(8) {
                let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            let (address, loopback) = if v6 {
                let octets: [u8; 16] = bytes.try_into().ok()?;
                let ip = Ipv6Addr::from(octets);
                let mapped = ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
                (ip.to_string(), ip.is_loopback() || mapped)
            } else {
                let octets: [u8; 4] = bytes.try_into().ok()?;
                let ip = Ipv4Addr::from(octets);
                (ip.to_string(), ip.is_loopback())
            };
            Some(Listener {
                protocol: if v6 { "tcp6" } else { "tcp" }.to_owned(),
                address,
                port: u16::from_str_radix(port, 16).ok()?,
                loopback,
            })
        })
        .collect()
}

fn listeners(host: &dyn Host) -> Result<Vec<Listener>, Outcome> {
    match command(host, SS)? {
        Some(out) if out.status == 0 => return Ok(parse_ss(&out.stdout)),
        Some(_) | None => {}
    }
    let v4 = file(host, "/proc/net/tcp")?
        .ok_or_else(|| unknown("", "neither ss nor /proc/net/tcp is available"))?;
    let mut found = parse_proc(&v4, false);
    if let Some(v6) = file(host, "/proc/net/tcp6")? {
        found.extend(parse_proc(&v6, true));
    }
    Ok(found)
}

/// Fails when a listener on one of `ports` is reachable beyond loopback.
fn not_exposed(host: &dyn Host, service: &str, ports: &[u16]) -> Verdict {
    let all = listeners(host)?;
    let on_ports: Vec<&Listener> = all.iter().filter(|l| ports.contains(&l.port)).collect();
    let exposed: Vec<String> = on_ports
        .iter()
        .filter(|l| !l.loopback)
        .map(ToString::to_string)
        .collect();
    let ports_text = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if exposed.is_empty() {
        let local: Vec<String> = on_ports.iter().map(ToString::to_string).collect();
        let evidence = if local.is_empty() {
            format!("nothing listens on port {ports_text}")
        } else {
            format!("loopback only: {}", local.join(", "))
        };
        pass(
            &evidence,
            format!("{service} is not reachable from the network"),
        )
    } else {
        fail(
            &exposed.join(", "),
            format!("{service} listens beyond loopback, reachable unless a firewall blocks it"),
        )
    }
}

pub(crate) fn ssh_beyond_loopback(host: &dyn Host) -> Verdict {
    not_exposed(host, "SSH", &[22])
}

pub(crate) fn rdp_vnc_not_exposed(host: &dyn Host) -> Verdict {
    not_exposed(
        host,
        "Remote desktop (RDP or VNC)",
        &[3389, 5900, 5901, 5902, 5903],
    )
}

pub(crate) fn smb_rpc_not_exposed(host: &dyn Host) -> Verdict {
    not_exposed(host, "File sharing (SMB, NetBIOS or RPC)", &[445, 139, 135])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ss_and_proc() {
        let ss = "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\ntcp LISTEN 0 4096 [::1]:631 [::]:*\nudp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n";
        let seen = parse_ss(ss);
        assert_eq!(seen.len(), 3);
        assert!(!seen[0].loopback && seen[1].loopback && seen[2].loopback);
        let tcp = "  sl  local_address rem_address   st\n   0: 0100007F:0CEA 00000000:0000 0A\n   1: 00000000:0016 00000000:0000 0A\n";
        let seen = parse_proc(tcp, false);
        assert_eq!(seen[0].to_string(), "tcp 127.0.0.1:3306");
        assert!(seen[0].loopback && !seen[1].loopback && seen[1].port == 22);
        let tcp6 = "sl local rem st\n 0: 00000000000000000000000001000000:0016 0 0A\n";
        assert!(parse_proc(tcp6, true)[0].loopback);
    }
}
