//! Values that change every minute: sent with every check-in, kept as the device's latest
//! state, never diffed into the timeline.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    /// Whole-machine CPU use since the previous sample, 0–100.
    pub cpu_percent: f32,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub swap_used_bytes: u64,
    /// Absent from agents before metrics history (0: unknown, or no swap).
    #[serde(default)]
    pub swap_total_bytes: u64,
    pub load_1m: f32,
    pub uptime_secs: u64,
    #[serde(default)]
    pub filesystems: Vec<FilesystemUsage>,
    /// Whole disks' throughput since the previous sample (empty in an agent's first sample,
    /// and from agents before metrics history).
    #[serde(default)]
    pub disks: Vec<DiskIo>,
    /// Network interfaces' throughput since the previous sample (loopback left out; empty
    /// as for `disks`).
    #[serde(default)]
    pub networks: Vec<NetThroughput>,
}

/// Bytes read and written per second on one whole disk (`sda`, `nvme0n1`, `vda`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiskIo {
    pub device: String,
    pub read_bytes_per_sec: u64,
    pub write_bytes_per_sec: u64,
}

/// Bytes received and sent per second on one network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetThroughput {
    pub interface: String,
    pub rx_bytes_per_sec: u64,
    pub tx_bytes_per_sec: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilesystemUsage {
    pub mount_point: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
}

impl FilesystemUsage {
    /// Used share, 0–100; 0 for an empty filesystem.
    pub fn used_percent(&self) -> f64 {
        if self.total_bytes == 0 {
            0.0
        } else {
            self.used_bytes as f64 * 100.0 / self.total_bytes as f64
        }
    }
}
