//! [`Apt`]: Debian and Ubuntu. Listing is `apt list --upgradable` (it reads the indexes the
//! distribution's timer keeps fresh: no download, no lock, no solver); installing is
//! `apt-get install --only-upgrade`, and what happened to each package is read from the
//! dpkg status before and after, not from apt's prose.

mod parse;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use steward_core::patching::{PackageOutcome, PackageResult, PendingUpdate};

use super::UpdateManager;
use super::command::{Command, Finished};
use super::names::check_package_names;
pub use parse::{Installed, dpkg_status, names_security, upgradable};

/// The system apt and dpkg act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// This machine.
    System,
    /// A directory holding a root of its own (`etc/apt`, `var/lib/dpkg`, …): apt reads
    /// only its configuration (through `APT_CONFIG`, so the machine's `apt.conf.d` hooks do
    /// not run), and dpkg installs into it, running maintainer scripts without a chroot.
    /// For tests; nothing outside the directory changes.
    Directory(PathBuf),
}

impl Root {
    /// Makes `dir` a root apt and dpkg can work in (its directories, an empty dpkg
    /// database, the `apt.conf` that points apt at it), keeping what is already there.
    pub fn prepare_directory(dir: &Path) -> anyhow::Result<Root> {
        for sub in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/log/apt",
            "run",
        ] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        let status = dir.join("var/lib/dpkg/status");
        if !status.exists() {
            std::fs::write(&status, "")
                .with_context(|| format!("cannot create {}", status.display()))?;
        }
        let root = Root::Directory(dir.to_path_buf());
        let conf = dir.join("etc/apt/apt.conf");
        // `Dir` in the file apt reads first: its `apt.conf.d` is then the root's, not the
        // machine's. Everything else is on the command line (`apt_options`).
        std::fs::write(&conf, format!("Dir \"{}/\";\n", dir.display()))
            .with_context(|| format!("cannot write {}", conf.display()))?;
        Ok(root)
    }

    /// A file of the root: `path("run/reboot-required")`.
    pub fn path(&self, relative: &str) -> PathBuf {
        match self {
            Root::System => Path::new("/").join(relative),
            Root::Directory(dir) => dir.join(relative),
        }
    }

    /// dpkg's database.
    pub fn status_file(&self) -> PathBuf {
        self.path("var/lib/dpkg/status")
    }

    /// The environment apt needs for this root.
    fn apt_env(&self) -> Vec<(String, String)> {
        match self {
            Root::System => Vec::new(),
            Root::Directory(_) => vec![(
                "APT_CONFIG".to_owned(),
                self.path("etc/apt/apt.conf").display().to_string(),
            )],
        }
    }

    /// The options every apt-get run gets for this root.
    fn apt_options(&self) -> Vec<String> {
        let Root::Directory(dir) = self else {
            return Vec::new();
        };
        let mut options = vec![
            format!("Dir={}/", dir.display()),
            format!("Dir::State::status={}", self.status_file().display()),
        ];
        options.extend(
            self.dpkg_options()
                .into_iter()
                .map(|o| format!("DPkg::Options::={o}")),
        );
        options
            .into_iter()
            .flat_map(|o| ["-o".to_owned(), o])
            .collect()
    }

    /// The options dpkg gets for this root (through apt, or run directly).
    fn dpkg_options(&self) -> Vec<String> {
        let Root::Directory(dir) = self else {
            return Vec::new();
        };
        vec![
            format!("--root={}", dir.display()),
            format!("--admindir={}", dir.join("var/lib/dpkg").display()),
            // The root has no shell to chroot into; the scripts run here, with
            // DPKG_ROOT set to the root.
            "--force-script-chrootless".to_owned(),
            // Lets a non-root test user install into its own directory.
            "--force-not-root".to_owned(),
        ]
    }
}

/// apt and dpkg on a [`Root`].
#[derive(Debug, Clone)]
pub struct Apt {
    pub root: Root,
    /// How long listing may take.
    pub list_timeout: Duration,
    /// How long an install may take before it is killed.
    pub install_timeout: Duration,
}

impl Apt {
    pub fn new(root: Root) -> Apt {
        Apt {
            root,
            list_timeout: Duration::from_secs(120),
            install_timeout: Duration::from_secs(3600),
        }
    }

    fn apt_get(&self, timeout: Duration) -> Command {
        let mut command = Command::new("apt-get", timeout);
        command.env = self.root.apt_env();
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("APT_LISTCHANGES_FRONTEND", "none")
            .args(self.root.apt_options())
    }

    fn installed(&self) -> anyhow::Result<std::collections::BTreeMap<String, Installed>> {
        let path = self.root.status_file();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(dpkg_status(&text))
    }

    /// Finishes what a failed run left unpacked (`dpkg --configure --pending`), so that the
    /// packages that did install are configured and the machine is not left half done.
    fn configure_pending(&self, log: &mut dyn FnMut(&str)) -> anyhow::Result<Finished> {
        Command::new("dpkg", self.install_timeout)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(self.root.dpkg_options())
            .args([
                "--force-confdef",
                "--force-confold",
                "--configure",
                "--pending",
            ])
            .run(log)
    }
}

impl UpdateManager for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn schedule_reboot(&self) -> anyhow::Result<()> {
        match self.root {
            Root::System => crate::updates::reboot_in_a_minute(),
            // A directory root is no machine to reboot (the tests' throwaway roots).
            Root::Directory(_) => anyhow::bail!(
                "not rebooting: updates were installed into a directory, not this machine"
            ),
        }
    }

    /// `apt list --upgradable`: every installed package with a newer candidate in the
    /// current indexes, and the suites it comes from. Not `apt-get -s dist-upgrade`: that
    /// resolves the whole upgrade and costs about three times the CPU (2 s against 0.7 s for
    /// 114 pending on a Debian 12 machine: `steward-bench updates`), while a listing needs
    /// only the candidates.
    fn pending(&self) -> anyhow::Result<Vec<PendingUpdate>> {
        let mut command = Command::new("apt", self.list_timeout);
        command.env = self.root.apt_env();
        let finished = command
            .args(self.root.apt_options())
            .args(["-o", "Debug::NoLocking=1", "list", "--upgradable"])
            .run(&mut |_| {})?;
        if finished.status != 0 {
            bail!(
                "apt list --upgradable exited {}: {}",
                finished.status,
                parse::last_error(&finished.output).unwrap_or("no reason given")
            );
        }
        let native = Command::new("dpkg", self.list_timeout)
            .args(["--print-architecture"])
            .run(&mut |_| {})
            .ok()
            .filter(|f| f.status == 0)
            .and_then(|f| f.output.first().map(|a| a.trim().to_owned()))
            .unwrap_or_default();
        Ok(upgradable(&finished.output.join("\n"), &native))
    }

    fn install(
        &self,
        packages: &[String],
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Vec<PackageResult>> {
        check_package_names(packages)?;
        let before = self.installed()?;
        let finished = self
            .apt_get(self.install_timeout)
            .args(["install", "--only-upgrade", "-y"])
            .args([
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
            ])
            .args(packages.iter().cloned())
            .run(log)?;
        if finished.status != 0 {
            log(&format!(
                "apt-get exited {}; configuring what was unpacked",
                finished.status
            ));
            // Its own failure shows in the packages' states read below.
            if let Err(e) = self.configure_pending(log) {
                log(&format!("dpkg --configure --pending: {e:#}"));
            }
        }
        let after = self.installed()?;
        let remarks = parse::install_remarks(&finished.output);
        let whole_run = parse::last_error(&finished.output)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("apt-get exited {}", finished.status));
        Ok(packages
            .iter()
            .map(|package| {
                let from = before.get(package).map(|i| i.version.clone());
                let now = after.get(package);
                let remark = remarks.get(package).or_else(|| {
                    // dpkg names `name:arch`, the caller may have said `name`.
                    remarks
                        .iter()
                        .find(|(k, _)| k.split(':').next() == Some(package))
                        .map(|(_, v)| v)
                });
                let outcome = match (now, remark) {
                    (Some(now), _)
                        if Some(&now.version) != from.as_ref() && now.is_configured() =>
                    {
                        PackageOutcome::Installed
                    }
                    (Some(now), _) if Some(&now.version) != from.as_ref() => {
                        PackageOutcome::Failed {
                            why: format!("left {} at {}", now.state, now.version),
                        }
                    }
                    (_, Some(Err(why))) => PackageOutcome::Failed { why: why.clone() },
                    (Some(_), Some(Ok(()))) => PackageOutcome::Unchanged,
                    (None, _) => PackageOutcome::Failed {
                        why: "not installed".to_owned(),
                    },
                    (Some(_), None) if finished.status == 0 => PackageOutcome::Unchanged,
                    (Some(_), None) => PackageOutcome::Failed {
                        why: whole_run.clone(),
                    },
                };
                PackageResult {
                    package: package.clone(),
                    from: from.unwrap_or_default(),
                    to: now.map(|i| i.version.clone()),
                    outcome,
                }
            })
            .collect())
    }

    fn reboot_required(&self) -> anyhow::Result<bool> {
        let flag = self.root.path("run/reboot-required");
        match std::fs::metadata(&flag) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", flag.display())),
        }
    }
}
