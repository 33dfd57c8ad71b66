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
    pub load_1m: f32,
    pub uptime_secs: u64,
    #[serde(default)]
    pub filesystems: Vec<FilesystemUsage>,
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
