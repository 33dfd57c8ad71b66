//! Listening sockets: TCP sockets in the LISTEN state and bound, unconnected UDP sockets, IPv4
//! and IPv6, from `/proc/net/{tcp,tcp6,udp,udp6}` (parsed by procfs), each mapped to the
//! process that owns it by finding its socket inode among the links in `/proc/<pid>/fd`.
//!
//! Processes whose descriptors the agent may not read (other users', when not root) are
//! skipped: their sockets are still listed, with no process and no pid. Only the agent's own
//! network namespace is seen.

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;

use anyhow::Context;
use procfs::net::{TcpNetEntries, TcpState, UdpNetEntries, UdpState};
use procfs::{ExplicitSystemInfo, FromBufReadSI};
use steward_core::{Listener, Protocol};

use super::read_optional;

/// A listening socket before its owner is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub inode: u64,
}

/// Who holds a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub process: String,
}

/// Every listening socket with its owner where visible, one per (protocol, address, port),
/// sorted by that key.
pub fn collect() -> anyhow::Result<Vec<Listener>> {
    let little_endian = cfg!(target_endian = "little");
    let mut sockets = Vec::new();
    for (path, protocol) in [
        ("/proc/net/tcp", Protocol::Tcp),
        ("/proc/net/tcp6", Protocol::Tcp),
        ("/proc/net/udp", Protocol::Udp),
        ("/proc/net/udp6", Protocol::Udp),
    ] {
        // The v6 tables are absent when IPv6 is disabled.
        let Some(text) = read_optional(path)? else {
            continue;
        };
        let parsed = match protocol {
            Protocol::Tcp => parse_tcp(&text, little_endian),
            Protocol::Udp => parse_udp(&text, little_endian),
        };
        sockets.extend(parsed.with_context(|| format!("parsing {path}"))?);
    }
    let owners = find_owners(sockets.iter().map(|s| s.inode));
    Ok(to_listeners(sockets, &owners))
}

fn system_info(little_endian: bool) -> ExplicitSystemInfo {
    // Only the byte order matters to the socket tables.
    ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: little_endian,
    }
}

/// Sockets in LISTEN state in the text of `/proc/net/tcp` or `/proc/net/tcp6`. Addresses are
/// in the kernel's byte order, hence `little_endian`.
pub fn parse_tcp(text: &str, little_endian: bool) -> anyhow::Result<Vec<Socket>> {
    let entries = TcpNetEntries::from_buf_read(text.as_bytes(), &system_info(little_endian))?;
    Ok(entries
        .0
        .into_iter()
        .filter(|entry| entry.state == TcpState::Listen)
        .map(|entry| Socket {
            protocol: Protocol::Tcp,
            local: entry.local_address,
            inode: entry.inode,
        })
        .collect())
}

/// Bound, unconnected sockets in the text of `/proc/net/udp` or `/proc/net/udp6`: the UDP
/// equivalent of listening. Connected sockets (clients talking to one peer) are left out.
pub fn parse_udp(text: &str, little_endian: bool) -> anyhow::Result<Vec<Socket>> {
    let entries = UdpNetEntries::from_buf_read(text.as_bytes(), &system_info(little_endian))?;
    Ok(entries
        .0
        .into_iter()
        .filter(|entry| {
            entry.state == UdpState::Close
                && entry.local_address.port() != 0
                && entry.remote_address.port() == 0
        })
        .map(|entry| Socket {
            protocol: Protocol::Udp,
            local: entry.local_address,
            inode: entry.inode,
        })
        .collect())
}

/// Combines sockets and owners into listeners, one per (protocol, address, port). When several
/// sockets share a key (`SO_REUSEPORT`, a socket inherited by workers), the one with an owner
/// and the lowest pid is kept, so that the result does not depend on table order.
pub fn to_listeners(sockets: Vec<Socket>, owners: &HashMap<u64, Owner>) -> Vec<Listener> {
    let mut listeners: Vec<Listener> = sockets
        .into_iter()
        .map(|socket| {
            let owner = owners.get(&socket.inode);
            Listener {
                protocol: socket.protocol,
                address: socket.local.ip().to_string(),
                port: socket.local.port(),
                process: owner.map(|o| o.process.clone()).unwrap_or_default(),
                pid: owner.map(|o| o.pid),
            }
        })
        .collect();
    // Within a key, best first: an owner before none, then the lowest pid.
    listeners.sort_by(|a, b| {
        (a.protocol, &a.address, a.port)
            .cmp(&(b.protocol, &b.address, b.port))
            .then_with(|| match (a.pid, b.pid) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.process.cmp(&b.process),
            })
    });
    listeners.dedup_by(|later, first| {
        later.protocol == first.protocol
            && later.address == first.address
            && later.port == first.port
    });
    listeners
}

/// Finds the process holding each of `inodes`, by reading the links in every `/proc/<pid>/fd`
/// once. When several processes share a socket the lowest pid wins (`/proc` lists pids in
/// ascending order and the first found is kept). Stops early once every inode is placed.
pub fn find_owners(inodes: impl IntoIterator<Item = u64>) -> HashMap<u64, Owner> {
    let mut wanted: HashMap<u64, Option<u32>> = inodes.into_iter().map(|i| (i, None)).collect();
    let mut missing = wanted.len();
    let mut names: HashMap<u32, String> = HashMap::new();
    if missing == 0 {
        return HashMap::new();
    }
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return HashMap::new();
    };
    // One path buffer reused for every descriptor: "/proc/<pid>/fd/<n>".
    let mut path = String::with_capacity(64);
    for entry in proc_dir.flatten() {
        let file_name = entry.file_name();
        let Some(pid_text) = file_name.to_str() else {
            continue;
        };
        let Ok(pid) = pid_text.parse::<u32>() else {
            continue;
        };
        path.clear();
        path.push_str("/proc/");
        path.push_str(pid_text);
        path.push_str("/fd/");
        let fd_dir_len = path.len();
        // Not ours to read, or gone since the listing: skip.
        let Ok(fds) = fs::read_dir(&path) else {
            continue;
        };
        for fd in fds.flatten() {
            let fd_name = fd.file_name();
            let Some(fd_name) = fd_name.to_str() else {
                continue;
            };
            path.truncate(fd_dir_len);
            path.push_str(fd_name);
            let Ok(target) = fs::read_link(&path) else {
                continue;
            };
            let Some(inode) = target.to_str().and_then(socket_inode) else {
                continue;
            };
            if let Some(slot @ None) = wanted.get_mut(&inode) {
                *slot = Some(pid);
                missing -= 1;
                names.entry(pid).or_insert_with(|| process_name(pid));
            }
        }
        if missing == 0 {
            break;
        }
    }
    wanted
        .into_iter()
        .filter_map(|(inode, pid)| {
            let pid = pid?;
            let process = names.get(&pid).cloned().unwrap_or_default();
            Some((inode, Owner { pid, process }))
        })
        .collect()
}

/// The inode in a descriptor link such as `socket:[12345]`.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// A process's command name (`/proc/<pid>/comm`); empty when it cannot be read.
fn process_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim_end_matches('\n').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    // Real lines, as a little-endian kernel prints them.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19214 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 23456 1 0000000000000000 100 0 0 10 0
   2: 0F02000A:0016 0202000A:D5A4 01 00000000:00000000 02:0008B9FC 00000000     0        0 98765 4 0000000000000000 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 19216 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 44444 1 0000000000000000 100 0 0 10 0
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  512: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 17000 2 0000000000000000 0
  700: 0F02000A:E0F1 08080808:0035 01 00000000:00000000 00:00000000 00000000  1000        0 17001 2 0000000000000000 0
  701: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 17002 2 0000000000000000 0
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 18000 2 0000000000000000 0
";

    fn addr(ip: IpAddr, port: u16) -> SocketAddr {
        SocketAddr::new(ip, port)
    }

    #[test]
    fn tcp_v4_listeners_only() {
        let sockets = parse_tcp(TCP, true).unwrap();
        assert_eq!(
            sockets,
            vec![
                Socket {
                    protocol: Protocol::Tcp,
                    local: addr(Ipv4Addr::UNSPECIFIED.into(), 22),
                    inode: 19214
                },
                Socket {
                    protocol: Protocol::Tcp,
                    local: addr(Ipv4Addr::LOCALHOST.into(), 5432),
                    inode: 23456
                },
            ]
        );
    }

    #[test]
    fn tcp_v6_listeners_including_v4_mapped() {
        let sockets = parse_tcp(TCP6, true).unwrap();
        let locals: Vec<SocketAddr> = sockets.iter().map(|s| s.local).collect();
        assert_eq!(
            locals,
            vec![
                addr(Ipv6Addr::UNSPECIFIED.into(), 22),
                addr(Ipv6Addr::LOCALHOST.into(), 631),
                addr(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 8080),
            ]
        );
        assert_eq!(sockets[1].inode, 31337);
    }

    #[test]
    fn udp_bound_unconnected_only() {
        let v4 = parse_udp(UDP, true).unwrap();
        let locals: Vec<SocketAddr> = v4.iter().map(|s| s.local).collect();
        assert_eq!(
            locals,
            vec![
                addr(Ipv4Addr::new(127, 0, 0, 53).into(), 53),
                addr(Ipv4Addr::UNSPECIFIED.into(), 68),
            ]
        );
        let v6 = parse_udp(UDP6, true).unwrap();
        assert_eq!(v6.len(), 1);
        assert_eq!(v6[0].local, addr(Ipv6Addr::UNSPECIFIED.into(), 5353));
        assert_eq!(v6[0].protocol, Protocol::Udp);
    }

    #[test]
    fn header_only_table_is_empty_and_garbage_is_an_error() {
        let header = TCP.lines().next().unwrap();
        assert!(parse_tcp(header, true).unwrap().is_empty());
        assert!(parse_tcp("header\n   0: zzzz\n", true).is_err());
    }

    #[test]
    fn socket_inode_from_fd_link() {
        assert_eq!(socket_inode("socket:[19214]"), Some(19214));
        assert_eq!(socket_inode("pipe:[19214]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }

    #[test]
    fn listeners_get_owners_and_duplicates_keep_the_lowest_pid() {
        let sock = |port: u16, inode: u64| Socket {
            protocol: Protocol::Tcp,
            local: addr(Ipv4Addr::UNSPECIFIED.into(), port),
            inode,
        };
        let owners = HashMap::from([
            (
                1,
                Owner {
                    pid: 900,
                    process: "nginx".into(),
                },
            ),
            (
                2,
                Owner {
                    pid: 800,
                    process: "nginx".into(),
                },
            ),
        ]);
        // Port 80 twice (SO_REUSEPORT workers), port 22 with no visible owner.
        let listeners = to_listeners(vec![sock(80, 1), sock(22, 3), sock(80, 2)], &owners);
        assert_eq!(
            listeners,
            vec![
                Listener {
                    protocol: Protocol::Tcp,
                    address: "0.0.0.0".into(),
                    port: 22,
                    process: String::new(),
                    pid: None,
                },
                Listener {
                    protocol: Protocol::Tcp,
                    address: "0.0.0.0".into(),
                    port: 80,
                    process: "nginx".into(),
                    pid: Some(800),
                },
            ]
        );
    }

    #[test]
    fn finds_the_owner_of_a_socket_of_this_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let text = fs::read_to_string("/proc/net/tcp").unwrap();
        let socket = parse_tcp(&text, cfg!(target_endian = "little"))
            .unwrap()
            .into_iter()
            .find(|s| s.local.port() == port)
            .unwrap();
        let owners = find_owners([socket.inode]);
        let owner = &owners[&socket.inode];
        assert_eq!(owner.pid, std::process::id());
        assert!(!owner.process.is_empty());
    }
}
