//! `steward admin script …` and `steward admin batch …`: the script library, runs, and
//! the progress of a job sent to many devices.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// List the library's scripts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a script: its content, parameters and versions.
    Show {
        /// The script's name or id.
        script: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a script from a file, e.g. `steward admin script add "Restart nginx" --file
    /// restart.sh --param "service text required"`.
    Add {
        name: String,
        /// The script's content.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// sh or python3.
        #[arg(long, default_value = "sh")]
        interpreter: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A parameter: `name kind [required] [default=VALUE]`, kind text, number or
        /// choice:a|b (repeat for each).
        #[arg(long = "param", value_name = "SPEC")]
        params: Vec<String>,
    },
    /// Save a new version of a script from a file (its parameters and interpreter stay
    /// unless given).
    Edit {
        script: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[arg(long)]
        interpreter: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replaces every parameter (repeat for each); `--no-params` removes them all.
        #[arg(long = "param", value_name = "SPEC")]
        params: Vec<String>,
        #[arg(long)]
        no_params: bool,
    },
    /// Take a script out of the library (its versions and runs stay on record).
    Archive { script: String },
    /// Run a script on devices, e.g. `steward admin script run "Restart nginx" --on
    /// group:Shop --param service=nginx`. Prints the batch id; follow it with `steward admin
    /// batch show ID`.
    Run {
        script: String,
        /// all, device:NAME, group:NAME or tag:NAME.
        #[arg(long, value_name = "TARGET")]
        on: String,
        /// A value, NAME=VALUE (repeat for each).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Seconds the script may run (default 300).
        #[arg(long)]
        timeout: Option<u64>,
        /// Hours an offline device may still start it (default 24).
        #[arg(long)]
        expires_in_hours: Option<u64>,
        /// Wait until every device has finished (or the job expired) and print each result.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// The newest batches with their progress.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A batch and each device's job: queued, offline, running, succeeded, failed, expired.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}
