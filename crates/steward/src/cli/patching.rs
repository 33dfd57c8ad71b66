//! `steward admin updates …`: pending updates, installs, approvals and patch policies.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum UpdatesCommand {
    /// The fleet's patching: devices missing security updates, the oldest in days, reboots
    /// required, and each device's line.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A device's pending updates and what its policy does with each.
    Show {
        /// The device's name or id.
        device: String,
        #[arg(long)]
        json: bool,
    },
    /// Install updates now, e.g. `steward admin updates install --on group:Shop
    /// --security-only`. Prints the batch id (`steward admin batch show ID`).
    Install {
        /// all, device:NAME, group:NAME or tag:NAME.
        #[arg(long, value_name = "TARGET")]
        on: String,
        /// Only this package (repeat for each); every pending one when left out.
        #[arg(long = "package", value_name = "NAME")]
        packages: Vec<String>,
        #[arg(long)]
        security_only: bool,
    },
    /// Approve one version of a package fleet-wide (policies that ask for approval install
    /// it).
    Approve { package: String, version: String },
    /// Withdraw an approval.
    Unapprove { package: String, version: String },
    /// Patch policies.
    #[command(subcommand)]
    Policy(PatchPolicyCommand),
}

#[derive(Debug, Subcommand)]
pub enum PatchPolicyCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a policy, e.g. `steward admin updates policy add "Servers" --on tag:server
    /// --window "sun 02:00 4h" --security auto --others defer:7 --reboot in_window
    /// --hold "linux-image-*"`.
    Add {
        name: String,
        /// all, device:NAME, group:NAME or tag:NAME.
        #[arg(long, value_name = "TARGET")]
        on: String,
        /// When installs may run, UTC: `sun 02:00 4h`, `mon-fri 22:00 90m`; any time when
        /// left out.
        #[arg(long)]
        window: Option<String>,
        /// auto or approve.
        #[arg(long, default_value = "auto")]
        security: String,
        /// defer:DAYS, approve or never.
        #[arg(long, default_value = "defer:7")]
        others: String,
        /// never, in_window or ask.
        #[arg(long, default_value = "never")]
        reboot: String,
        /// A package never installed by policy (a name, or a prefix ending in *).
        #[arg(long = "hold", value_name = "PACKAGE")]
        holds: Vec<String>,
    },
    Delete {
        /// The policy's name or id.
        policy: String,
    },
}
