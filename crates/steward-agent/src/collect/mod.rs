//! Platform collectors: what the agent knows about the machine it runs on.
//!
//! Everything operating-system specific sits behind [`Collector`]; the rest of the agent only
//! ever sees [`steward_core::Inventory`] and [`steward_core::Metrics`]. Linux is implemented in
//! [`linux`]; Windows and macOS get a sibling module and a line in [`platform_collector`].

#[cfg(target_os = "linux")]
pub mod linux;

use steward_core::checks::{Observations, Watch};
use steward_core::{Inventory, Metrics};

/// Everything platform-specific the agent needs. Linux is implemented; Windows and macOS slot in beside it.
pub trait Collector: Send {
    /// The full inventory, already normalised (`Inventory::normalize`).
    fn inventory(&mut self) -> anyhow::Result<Inventory>;
    /// Current metrics (CPU since previous call, memory, swap, load, uptime, filesystem usage).
    fn metrics(&mut self) -> Metrics;
    /// What the server asked to watch (units, processes) and the failed units. A platform
    /// that cannot tell reports only which watch list it answers.
    fn observe(&mut self, watch: &Watch) -> Observations {
        Observations {
            watch_version: watch.version.clone(),
            ..Observations::default()
        }
    }
}

/// The collector for the platform this binary was built for.
pub fn platform_collector() -> Box<dyn Collector> {
    #[cfg(target_os = "linux")]
    {
        Box::new(linux::LinuxCollector::new())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(Unsupported)
    }
}

/// Stand-in for platforms without a collector yet: the agent still builds and runs, and says
/// plainly why it has no inventory.
#[cfg(not(target_os = "linux"))]
struct Unsupported;

#[cfg(not(target_os = "linux"))]
impl Collector for Unsupported {
    fn inventory(&mut self) -> anyhow::Result<Inventory> {
        anyhow::bail!("no inventory collector for {} yet", std::env::consts::OS)
    }

    fn metrics(&mut self) -> Metrics {
        Metrics::default()
    }
}
