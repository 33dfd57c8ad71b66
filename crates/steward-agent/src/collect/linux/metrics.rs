//! One metrics sample: CPU use since the previous sample (`/proc/stat`), memory and swap
//! (`/proc/meminfo`), 1-minute load (`/proc/loadavg`), uptime (`/proc/uptime`), the usage
//! of the filesystems the inventory lists (`/proc/mounts`, `statvfs`), and disk and network
//! throughput since the previous sample (`/proc/diskstats`, `/proc/net/dev`).
//!
//! Only those sources are refreshed, never the process list, so a sample costs a handful of
//! small reads: the agent must stay well under 1 % of a core at one sample a minute.

use steward_core::Metrics;
use sysinfo::{Disks, MemoryRefreshKind, System};

use super::filesystems;
use super::throughput::Throughput;

/// Samples the machine. `system` keeps the previous CPU counters and `throughput` the
/// previous byte counters, so `cpu_percent`, `disks` and `networks` cover the time since the
/// previous call (or since the collector was created).
pub fn sample(
    system: Option<&mut System>,
    disks: Option<&mut Disks>,
    throughput: &mut Throughput,
) -> Metrics {
    let mut metrics = Metrics::default();
    if let Some(system) = system {
        system.refresh_cpu_usage();
        system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        metrics.cpu_percent = system.global_cpu_usage().clamp(0.0, 100.0);
        metrics.memory_used_bytes = system.used_memory();
        metrics.memory_total_bytes = system.total_memory();
        metrics.swap_used_bytes = system.used_swap();
        metrics.swap_total_bytes = system.total_swap();
    }
    metrics.load_1m = System::load_average()
        .map(|load| load.one as f32)
        .unwrap_or_default();
    metrics.uptime_secs = System::uptime().unwrap_or_default();
    if let Some(disks) = disks {
        metrics.filesystems = filesystems::collect(disks)
            .iter()
            .map(filesystems::Mount::to_usage)
            .collect();
    }
    (metrics.disks, metrics.networks) = throughput.sample();
    metrics
}
