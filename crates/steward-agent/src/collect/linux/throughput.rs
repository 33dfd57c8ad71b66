//! Disk and network throughput: byte counters of whole disks (`/proc/diskstats`) and of
//! network interfaces (`/proc/net/dev`), turned into bytes per second between two samples.
//!
//! Whole disks only: a partition's traffic is its disk's too, and loop, RAM (`ram`, `zram`)
//! and device-mapper or RAID devices are views of other disks (or of memory). A disk is
//! taken to be whole when `/sys/block/<name>/device` exists, which is true of hardware and
//! virtio disks (`sda`, `nvme0n1`, `vda`, `mmcblk0`) and not of those. Loopback is left out
//! of the interfaces, and so are container `veth` pairs, as in the inventory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use steward_core::{DiskIo, NetThroughput};

/// The kernel counts disk traffic in 512-byte sectors whatever the disk's own sector size.
const SECTOR_BYTES: u64 = 512;

/// Cumulative byte counters at one moment.
#[derive(Debug, Clone)]
pub struct Counters {
    pub at: Instant,
    /// Disk → (bytes read, bytes written).
    pub disks: BTreeMap<String, (u64, u64)>,
    /// Interface → (bytes received, bytes sent).
    pub interfaces: BTreeMap<String, (u64, u64)>,
}

impl Counters {
    /// Reads the machine's counters now. A source that cannot be read gives no entries
    /// (a container without `/proc/diskstats`, say): throughput is then simply not reported.
    pub fn read() -> Counters {
        let disks = procfs::diskstats()
            .map(|stats| {
                stats
                    .into_iter()
                    .filter(|d| is_whole_disk(&d.name))
                    .map(|d| {
                        let read = d.sectors_read.saturating_mul(SECTOR_BYTES);
                        let written = d.sectors_written.saturating_mul(SECTOR_BYTES);
                        (d.name, (read, written))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let interfaces = procfs::net::dev_status()
            .map(|devices| {
                devices
                    .into_values()
                    .filter(|d| is_reported_interface(&d.name))
                    .map(|d| (d.name, (d.recv_bytes, d.sent_bytes)))
                    .collect()
            })
            .unwrap_or_default();
        Counters {
            at: Instant::now(),
            disks,
            interfaces,
        }
    }
}

fn is_whole_disk(name: &str) -> bool {
    let virtual_prefix = ["loop", "ram", "zram", "dm-", "md", "nbd"]
        .iter()
        .any(|p| name.starts_with(p));
    !virtual_prefix
        && !name.contains('/')
        && Path::new("/sys/block").join(name).join("device").exists()
}

fn is_reported_interface(name: &str) -> bool {
    name != "lo" && !name.starts_with("veth")
}

/// Bytes per second from `before` to `after`, per disk and interface present in both. A
/// counter that went backwards (a disk replaced, a driver reloaded, a 32-bit counter that
/// wrapped) gives no value for that sample rather than a nonsense one.
pub fn rates(before: &Counters, after: &Counters) -> (Vec<DiskIo>, Vec<NetThroughput>) {
    let secs = after.at.saturating_duration_since(before.at).as_secs_f64();
    if secs <= 0.0 {
        return (Vec::new(), Vec::new());
    }
    let per_sec = |earlier: u64, later: u64| -> Option<u64> {
        later
            .checked_sub(earlier)
            .map(|bytes| (bytes as f64 / secs).round() as u64)
    };
    let both = |a: &BTreeMap<String, (u64, u64)>, b: &BTreeMap<String, (u64, u64)>| {
        b.iter()
            .filter_map(|(name, (x1, y1))| {
                let (x0, y0) = a.get(name)?;
                Some((name.clone(), per_sec(*x0, *x1)?, per_sec(*y0, *y1)?))
            })
            .collect::<Vec<_>>()
    };
    let disks = both(&before.disks, &after.disks)
        .into_iter()
        .map(|(device, read, write)| DiskIo {
            device,
            read_bytes_per_sec: read,
            write_bytes_per_sec: write,
        })
        .collect();
    let interfaces = both(&before.interfaces, &after.interfaces)
        .into_iter()
        .map(|(interface, rx, tx)| NetThroughput {
            interface,
            rx_bytes_per_sec: rx,
            tx_bytes_per_sec: tx,
        })
        .collect();
    (disks, interfaces)
}

/// Keeps the previous counters between samples.
#[derive(Debug)]
pub struct Throughput {
    previous: Counters,
}

impl Throughput {
    /// Starts from the counters now: the first sample covers the time since.
    pub fn new() -> Self {
        Self {
            previous: Counters::read(),
        }
    }

    /// Throughput since the previous call (or since [`Throughput::new`]).
    pub fn sample(&mut self) -> (Vec<DiskIo>, Vec<NetThroughput>) {
        let now = Counters::read();
        let out = rates(&self.previous, &now);
        self.previous = now;
        out
    }
}

impl Default for Throughput {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn counters(at: Instant, disks: &[(&str, u64, u64)], ifaces: &[(&str, u64, u64)]) -> Counters {
        let map = |list: &[(&str, u64, u64)]| {
            list.iter()
                .map(|(n, a, b)| (n.to_string(), (*a, *b)))
                .collect()
        };
        Counters {
            at,
            disks: map(disks),
            interfaces: map(ifaces),
        }
    }

    #[test]
    fn rates_are_bytes_per_second_between_two_samples() {
        let t0 = Instant::now();
        let before = counters(
            t0,
            &[("sda", 1_000, 2_000), ("sdb", 500, 500)],
            &[("eth0", 10_000, 0), ("wlan0", 5, 5)],
        );
        let after = counters(
            t0 + Duration::from_secs(60),
            // sdb's counters went backwards (replaced): no value this time.
            &[("sda", 61_000, 2_000), ("sdb", 100, 100), ("sdc", 9, 9)],
            &[("eth0", 10_000 + 6_000_000, 120)],
        );
        let (disks, ifaces) = rates(&before, &after);
        assert_eq!(
            disks,
            vec![DiskIo {
                device: "sda".into(),
                read_bytes_per_sec: 1_000,
                write_bytes_per_sec: 0,
            }]
        );
        assert_eq!(
            ifaces,
            vec![NetThroughput {
                interface: "eth0".into(),
                rx_bytes_per_sec: 100_000,
                tx_bytes_per_sec: 2,
            }]
        );
        // No time between them: nothing to say.
        assert_eq!(rates(&after, &after), (Vec::new(), Vec::new()));
    }

    #[test]
    fn only_whole_disks_and_real_interfaces_count() {
        for name in ["loop0", "ram1", "zram0", "dm-0", "md127", "nbd0", "vda1x"] {
            assert!(!is_whole_disk(name), "{name}");
        }
        assert!(!is_reported_interface("lo"));
        assert!(!is_reported_interface("veth12ab"));
        assert!(is_reported_interface("eth0"));
    }

    /// This machine (a build box with a disk and an interface besides loopback).
    #[test]
    fn counters_of_this_machine() {
        let c = Counters::read();
        println!("{c:?}");
        assert!(!c.interfaces.contains_key("lo"));
        assert!(c.disks.keys().all(|d| is_whole_disk(d)));
        assert!(
            !c.disks.is_empty(),
            "no whole disk found in /proc/diskstats"
        );
    }
}
