//! `steward admin posture …`: the checklist's manual items and accepted risks from the shell.

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PostureCommand {
    /// List the manual checklist items: id, how each stands, its owner and review date.
    Items {
        /// Print JSON (the report's manual items) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Answer a manual item, e.g. `steward admin posture answer router-firmware --answer yes
    /// --owner "Sam (office manager)" --note "firmware 1.2.3" --attach invoice.pdf`.
    Answer {
        /// The item's id (see `steward admin posture items`).
        item: String,
        /// yes, partly, no or not_applicable.
        #[arg(long)]
        answer: String,
        /// Who answers for it, and is reminded when it is due for review.
        #[arg(long)]
        owner: String,
        /// What was checked, as evidence.
        #[arg(long, default_value = "")]
        note: String,
        /// When it must be confirmed again (YYYY-MM-DD, UTC); the item's own interval when
        /// left out.
        #[arg(long, value_name = "DATE")]
        review_by: Option<String>,
        /// A file to keep as evidence (at most 2 MiB), replacing any earlier one.
        #[arg(long, value_name = "FILE")]
        attach: Option<std::path::PathBuf>,
    },
    /// Accepted risks: a failing check excused on some devices until a date.
    #[command(subcommand)]
    Exception(ExceptionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// List the exceptions, active, expired and ended.
    List {
        /// Print JSON (as in the API's report) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Accept a failing check on some devices until a date, e.g. `steward admin posture
    /// exception add --check ssh-root-login --devices tag:lab --reason "lab machines, no
    /// network" --owner Sam --expires 2027-03-31`.
    Add {
        /// The check's id (see the report).
        #[arg(long)]
        check: String,
        /// Which devices: all, device:NAME, group:NAME or tag:NAME.
        #[arg(long)]
        devices: String,
        /// Why the risk is accepted.
        #[arg(long)]
        reason: String,
        /// Who accepts it.
        #[arg(long)]
        owner: String,
        /// When the failure counts again (YYYY-MM-DD, UTC; the end of that day).
        #[arg(long, value_name = "DATE")]
        expires: String,
    },
    /// End an exception now: the failure it excused counts again.
    End {
        /// The exception's id (see `list`).
        id: String,
    },
}
