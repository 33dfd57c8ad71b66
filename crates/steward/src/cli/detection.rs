//! `steward admin detections|detection-policy|drill …`: detections and decisions on them,
//! detection policies, and ransomware fire drills.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DetectionsCommand {
    /// Detections, the open ones first, then the newest.
    List {
        /// A device's name or id.
        #[arg(long)]
        device: Option<String>,
        /// open, confirmed, released or false_alarm.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A detection: the process tree, its executable and hash, the signals, the files in
    /// order, what the responses did.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Decide on a detection: confirm (kill the stopped process tree), release,
    /// false_alarm, isolate (cut the device off except from the server) or lift_isolation.
    Decide { id: String, decision: String },
}

#[derive(Debug, Subcommand)]
pub enum DetectionPolicyCommand {
    /// Set the policy of a target, e.g. `steward admin detection-policy set --target
    /// group:Office --folder /srv/share --folder /home --auto-stop`.
    Set {
        /// all, device:NAME, group:NAME or tag:NAME.
        #[arg(long)]
        target: String,
        /// A folder to protect (repeat for each).
        #[arg(long = "folder", value_name = "PATH", required = true)]
        folders: Vec<String>,
        /// Place no canary files.
        #[arg(long)]
        no_canaries: bool,
        /// Stop the offending process tree at once.
        #[arg(long)]
        auto_stop: bool,
        /// Isolate the device at once (only the Steward server stays reachable).
        #[arg(long)]
        auto_isolate: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Delete {
        /// all, device:NAME, group:NAME or tag:NAME.
        #[arg(long)]
        target: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// A safe ransomware fire drill: the agent simulates an attack on a scratch folder of
    /// its own; the drill records time to detect, files lost and which channels the alert
    /// reached. Prints the drill's job id.
    Ransomware {
        /// The device's name or id.
        #[arg(long)]
        device: String,
        /// Files the simulation creates and encrypts.
        #[arg(long)]
        files: Option<u32>,
        /// Wait (up to an hour) for the result and print it.
        #[arg(long)]
        wait: bool,
    },
}
