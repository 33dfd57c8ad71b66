//! Pending updates and their installation, behind a platform interface: [`UpdateManager`],
//! with [`Apt`] (Debian, Ubuntu) and [`Dnf`] (Fedora, RHEL and its rebuilds) beside which
//! Windows Update and macOS `softwareupdate` will sit. Listing and installing are blocking
//! (they run the package manager); the job executors in [`jobs`] run them off the async
//! workers.

pub mod apt;
pub mod command;
pub mod dnf;
pub mod jobs;
mod names;

use steward_core::patching::{PackageResult, PendingUpdate};

pub use apt::{Apt, Root};
pub use dnf::Dnf;
pub use jobs::{InstallUpdatesExecutor, ListUpdatesExecutor};

/// A machine's package manager, as far as patching goes.
pub trait UpdateManager: Send + Sync {
    /// The updates available for installed packages, from the package manager's current
    /// indexes (no download: refreshing them is the distribution's own timer's job).
    fn pending(&self) -> anyhow::Result<Vec<PendingUpdate>>;

    /// Upgrades `packages` (installed ones only; nothing new is installed), handing every
    /// line of the package manager's output to `log` as it comes, and says what happened
    /// to each. An error only when the install could not be attempted at all; a package
    /// that did not upgrade is a [`PackageResult`] with a failed outcome.
    fn install(
        &self,
        packages: &[String],
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Vec<PackageResult>>;

    /// Whether the machine asks for a reboot (a new kernel, a core library).
    fn reboot_required(&self) -> anyhow::Result<bool>;
}
