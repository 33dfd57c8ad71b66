//! `steward admin backup …`: the backup capability from the shell.

use clap::Subcommand;

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
}
