//! Network interfaces: names from `/sys/class/net`, MAC address from
//! `/sys/class/net/<name>/address`, and IPv4/IPv6 addresses with their prefix length from
//! `getifaddrs(3)` (through sysinfo's `Networks`), written in CIDR notation.

use std::path::Path;

use steward_core::NetInterface;
use sysinfo::Networks;

const SYS_CLASS_NET: &str = "/sys/class/net";

/// Every interface the kernel knows, loopback included.
pub fn collect() -> Vec<NetInterface> {
    // sysinfo 0.40 reports a failure to list interfaces; an empty list is the honest answer.
    let Ok(networks) = Networks::new_with_refreshed_list() else {
        return Vec::new();
    };
    let sys = Path::new(SYS_CLASS_NET);
    let mut out: Vec<NetInterface> = networks
        .iter()
        // Container veth pairs come and go with every container restart: listing them would
        // fill the timeline with noise and says nothing about the machine.
        .filter(|(name, _)| !name.to_string_lossy().starts_with("veth"))
        .map(|(name, data)| {
            let mut addresses: Vec<String> = data
                .ip_networks()
                .iter()
                .map(|net| format!("{}/{}", net.addr, net.prefix))
                .collect();
            addresses.sort();
            addresses.dedup();
            let name = name.to_string_lossy().into_owned();
            let mac = std::fs::read_to_string(sys.join(&name).join("address"))
                .map(|raw| normalize_mac(&raw))
                .unwrap_or_default();
            NetInterface {
                name,
                mac,
                addresses,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A hardware address as the kernel prints it, lower-cased; empty for interfaces without one
/// (loopback and tunnels report all zeros or nothing).
pub fn normalize_mac(raw: &str) -> String {
    let mac = raw.trim();
    if mac.bytes().all(|b| b == b'0' || b == b':') {
        String::new()
    } else {
        mac.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_lower_case_and_empty_when_unset() {
        assert_eq!(normalize_mac("52:54:00:AB:cd:EF\n"), "52:54:00:ab:cd:ef");
        assert_eq!(normalize_mac("00:00:00:00:00:00\n"), "");
        assert_eq!(normalize_mac("\n"), "");
    }
}
