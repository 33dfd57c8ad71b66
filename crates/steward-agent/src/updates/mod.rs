//! Pending updates and their installation, behind a platform interface: [`UpdateManager`],
//! with [`Apt`] (Debian, Ubuntu) and [`Dnf`] (Fedora, RHEL and its rebuilds) beside which
//! Windows Update and macOS `softwareupdate` will sit. Listing and installing are blocking
//! (they run the package manager); the job executors in [`jobs`] run them off the async
//! workers.

pub mod apt;
pub mod command;
pub mod dnf;
mod feed;
pub mod jobs;
mod names;

use std::sync::Arc;

use steward_core::patching::{PackageResult, PendingUpdate};

pub use apt::{Apt, Root};
pub use dnf::Dnf;
pub use feed::{MAX_REPORTED, UpdatesFeed};
pub use jobs::{InstallUpdatesExecutor, ListUpdatesExecutor};

/// A machine's package manager, as far as patching goes.
pub trait UpdateManager: Send + Sync {
    /// The package manager's name, as reports carry it (`apt`, `dnf`).
    fn name(&self) -> &'static str;

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

    /// Schedules a reboot in a minute (`shutdown -r +1`, which warns logged-in users), for a
    /// policy that reboots in its window.
    fn schedule_reboot(&self) -> anyhow::Result<()> {
        reboot_in_a_minute()
    }
}

/// `shutdown -r +1`: this machine reboots in a minute, its users warned.
pub(crate) fn reboot_in_a_minute() -> anyhow::Result<()> {
    let finished = command::Command::new("shutdown", std::time::Duration::from_secs(30))
        .args([
            "-r",
            "+1",
            "Steward: updates were installed; rebooting in a minute",
        ])
        .run(&mut |_| {})?;
    if finished.status != 0 {
        anyhow::bail!(
            "shutdown -r exited {}: {}",
            finished.status,
            finished.text()
        );
    }
    Ok(())
}

/// The package manager of this machine: apt where `apt-get` and dpkg's status are present,
/// dnf where `dnf` is; `None` elsewhere (the agent then neither lists nor installs).
pub fn this_machine() -> Option<Arc<dyn UpdateManager>> {
    let found = |program: &str| {
        crate::process_group::SYSTEM_PATH
            .split(':')
            .any(|dir| std::path::Path::new(dir).join(program).is_file())
    };
    if found("apt-get") && std::path::Path::new("/var/lib/dpkg/status").is_file() {
        Some(Arc::new(Apt::new(Root::System)))
    } else if found("dnf") {
        Some(Arc::new(Dnf::default()))
    } else {
        None
    }
}
