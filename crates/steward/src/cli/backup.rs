//! `steward admin backup …`: the backup capability from the shell.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back up a device now (its policies' paths, or --path) and wait for the result.
    Run {
        /// The device's name (or id).
        #[arg(long)]
        device: String,
        /// A path to back up instead of the policies' (repeat for more).
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<String>,
        /// A restic-style glob to leave out (repeat for more).
        #[arg(long = "exclude", value_name = "GLOB")]
        excludes: Vec<String>,
        /// Queue it and return without waiting.
        #[arg(long)]
        no_wait: bool,
    },
    /// List a device's snapshots, newest first.
    List {
        #[arg(long)]
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// List the files of a snapshot.
    Files {
        #[arg(long)]
        device: String,
        /// The snapshot's id (or a unique prefix of at least 8 digits).
        #[arg(long)]
        snapshot: String,
        /// A folder inside the snapshot.
        #[arg(long, default_value = "")]
        path: String,
        /// Only the folder's own entries, not everything under it.
        #[arg(long)]
        no_recursive: bool,
        /// The most entries listed (at most 100000): a longer listing stops there, saying so.
        #[arg(long, default_value_t = steward_server::backup::DEFAULT_LISTED)]
        limit: usize,
    },
    /// Restore files of a device's snapshot, to it or to another device, and wait.
    Restore {
        /// The device whose snapshot is restored.
        #[arg(long)]
        device: String,
        #[arg(long)]
        snapshot: String,
        /// A path inside the snapshot (repeat for more); all of it when none is given.
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<String>,
        /// Restore on this device instead (its agent reads the source's repository for
        /// this job alone).
        #[arg(long, value_name = "DEVICE")]
        to_device: Option<String>,
        /// The folder to restore under; "/" puts files back where they were.
        #[arg(long, value_name = "DIR")]
        target: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Prove a device's backups restore now: check its repository, restore a random sample
    /// on the device (or --runner) and compare it with the backup; waits for the outcome.
    Drill {
        #[arg(long)]
        device: String,
        /// The device whose agent restores the sample.
        #[arg(long, value_name = "DEVICE")]
        runner: Option<String>,
        #[arg(long)]
        no_wait: bool,
    },
    /// List a device's restore drills, newest first.
    Drills {
        #[arg(long)]
        device: String,
    },
    /// Print a device's repository location and password, to open it with the standard
    /// restic client (`restic -r LOCATION`). Audited.
    Password {
        #[arg(long)]
        device: String,
    },
    /// Backup policies: what to back up on which devices, when, and what to keep.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

impl BackupCommand {
    /// Whether the command opens repositories (and so needs the sealing key and the
    /// backups directory); policies are only rows in the database.
    pub fn uses_repositories(&self) -> bool {
        !matches!(self, BackupCommand::Policy { .. })
    }
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the backup policies.
    List {
        /// Print JSON (as the API's /api/v1/backup-policies) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a backup policy, e.g. `steward admin backup policy add documents --devices
    /// group:Shop --path /srv/share --keep daily=7,weekly=4,monthly=12`. Left out: every
    /// device, `daily 01:00`, keep daily=7,weekly=4,monthly=12, the usual Linux excludes,
    /// 30 days of protection.
    Add(Box<AddPolicy>),
    /// Remove a backup policy; its snapshots stay. One declared in the config file is
    /// removed there.
    Remove {
        /// The policy's name (or id).
        policy: String,
    },
}

#[derive(Debug, Args)]
pub struct AddPolicy {
    /// The policy's name.
    pub name: String,
    /// Which devices: all, group:NAME, tag:NAME or device:NAME.
    #[arg(long, default_value = "all")]
    pub devices: String,
    /// Start from a preset: linux-server or workstation (its paths and excludes, unless
    /// --path or --exclude are given).
    #[arg(long)]
    pub preset: Option<String>,
    /// An absolute path to back up (repeat for more).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// A restic-style glob to leave out, instead of the defaults (repeat for more).
    #[arg(long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,
    /// Leave nothing out, not even the default excludes.
    #[arg(long, conflicts_with = "excludes")]
    pub no_excludes: bool,
    /// When it runs (UTC): `daily 01:00`, `hourly`, `hourly :30`, `weekly sun 02:00`,
    /// `every 6h`.
    #[arg(long)]
    pub schedule: Option<String>,
    /// What to keep, by when the server received each snapshot: `daily=7,weekly=4`
    /// (kinds: last, hourly, daily, weekly, monthly, yearly), or `all` to keep every one.
    #[arg(long)]
    pub keep: Option<String>,
    /// No snapshot younger than this many days is ever forgotten (default 30, at least 1).
    #[arg(long, value_name = "DAYS")]
    pub protection_days: Option<u32>,
    /// Upload limit in KiB/s.
    #[arg(long, value_name = "KIB_PER_S")]
    pub bandwidth_kib: Option<u64>,
    /// Add it without running it yet.
    #[arg(long)]
    pub disabled: bool,
}
