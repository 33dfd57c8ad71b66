//! Every subcommand and flag, with the help text users see.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod backup;
mod detection;
mod monitoring;
mod patching;
mod posture;
mod scripts;
pub use backup::{AddPolicy, BackupCommand, PolicyCommand};
pub use detection::{DetectionPolicyCommand, DetectionsCommand, DrillCommand};
pub use monitoring::{
    AddCheck, AddWindow, AlertsCommand, ChannelsCommand, CheckSettings, ChecksCommand,
    MaintenanceCommand,
};
pub use patching::{PatchPolicyCommand, UpdatesCommand};
pub use posture::{ExceptionCommand, PostureCommand};
pub use scripts::{BatchCommand, ScriptCommand};

#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = "Steward: a self-hosted IT department in one binary",
    long_about = "Steward knows every device, watches it, and keeps its inventory and history.\n\n\
                  Start here: `steward up` runs everything on this machine (server, web console \
                  and an agent for this machine) on an embedded database in ./steward-data."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything on this machine: server, console, and an agent for this machine.
    Up(ServerArgs),
    /// Run the control plane: web console, REST API, agent endpoints.
    Server(ServerArgs),
    /// Enroll this machine or run its agent.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Administer a Steward installation from the shell.
    Admin(AdminArgs),
    /// Print the security posture report (per checklist section or framework) from the
    /// installation's database, whether or not the server is running.
    Report(ReportArgs),
}

/// Flags shared by `up` and `server`. Each flag can also be set by an environment variable
/// or in the config file; flags win over the environment, which wins over the file.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// TOML config file (see docs/CONFIGURATION.md).
    #[arg(long, env = "STEWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database and the local agent's state [default: ./steward-data].
    #[arg(long, env = "STEWARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to serve the console, API and agent endpoints on [default: 127.0.0.1:8080].
    #[arg(long, env = "STEWARD_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir].
    #[arg(
        long,
        env = "STEWARD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Read the database URL from FILE (it may hold a password; not readable by all users).
    #[arg(
        long,
        env = "STEWARD_DATABASE_URL_FILE",
        value_name = "FILE",
        conflicts_with = "database"
    )]
    pub database_file: Option<PathBuf>,
    /// Seconds between agent check-ins [default: 60].
    #[arg(long, env = "STEWARD_CHECKIN_INTERVAL", value_name = "SECS")]
    pub checkin_interval: Option<u64>,
    /// TLS certificate chain (PEM, leaf first) to serve HTTPS with; needs --tls-key.
    /// Without one, a non-loopback address gets a self-signed certificate made on first start.
    #[arg(long, env = "STEWARD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "STEWARD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP even on a non-loopback address. Only behind a reverse proxy that
    /// terminates TLS: otherwise credentials travel unencrypted.
    #[arg(long, env = "STEWARD_NO_TLS")]
    pub no_tls: bool,
    /// `up` only: do not watch this machine for ransomware in the local agent (on by
    /// default: the folders, canaries and responses of the detection policy).
    #[arg(long, env = "STEWARD_NO_DETECTION", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_detection: bool,
    /// Host names browsers and agents use to reach this server, besides its addresses,
    /// `localhost`, this host's name and the certificate's names (comma-separated; `*.example.com`
    /// for one label). A request for any other name is refused (DNS rebinding).
    #[arg(
        long = "public-name",
        env = "STEWARD_PUBLIC_NAMES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub public_names: Vec<String>,
    /// Reverse proxies (addresses or CIDR networks, comma-separated) whose Forwarded /
    /// X-Forwarded-For / X-Forwarded-Proto headers are believed.
    #[arg(
        long = "trusted-proxy",
        env = "STEWARD_TRUSTED_PROXIES",
        value_name = "IP|CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Open connections at once, in total [default: 4096].
    #[arg(long, env = "STEWARD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Open connections at once from one address [default: 256].
    #[arg(long, env = "STEWARD_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub max_connections_per_address: Option<usize>,
    /// Seconds a client has to send a request's headers, and that an idle kept-alive
    /// connection stays open [default: 15].
    #[arg(long, env = "STEWARD_HEADER_TIMEOUT", value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// Seconds a client has to send a request's body [default: 60].
    #[arg(long, env = "STEWARD_BODY_TIMEOUT", value_name = "SECS")]
    pub body_timeout: Option<u64>,
    /// Seconds a client has to finish the TLS handshake [default: 10].
    #[arg(long, env = "STEWARD_TLS_HANDSHAKE_TIMEOUT", value_name = "SECS")]
    pub tls_handshake_timeout: Option<u64>,
    /// Largest request body except agent uploads, in bytes [default: 65536].
    #[arg(long, env = "STEWARD_MAX_REQUEST_BODY_BYTES", value_name = "BYTES")]
    pub max_request_body_bytes: Option<usize>,
    /// Bearer token a Prometheus presents to read /metrics (at least 16 characters).
    #[arg(
        long,
        env = "STEWARD_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Read the /metrics bearer token from FILE (not readable by all users).
    #[arg(
        long,
        env = "STEWARD_METRICS_TOKEN_FILE",
        value_name = "FILE",
        conflicts_with = "metrics_token"
    )]
    pub metrics_token_file: Option<PathBuf>,
    /// Addresses or CIDR networks (comma-separated) whose clients may read /metrics
    /// [default: loopback only, unless a metrics token is set].
    #[arg(
        long = "metrics-allow",
        env = "STEWARD_METRICS_ALLOW",
        value_name = "IP|CIDR",
        value_delimiter = ','
    )]
    pub metrics_allow: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Enroll this machine with a server using a one-time enrollment token.
    Enroll {
        /// The server's URL, e.g. https://steward.example.lan:8080 (plain http:// only to
        /// this machine).
        #[arg(long, value_name = "URL")]
        server: String,
        /// The enrollment token from `steward admin enroll-token create`. Prefer
        /// STEWARD_ENROLL_TOKEN or --token-file: a token on the command line is visible to
        /// every local user in `ps` while the command runs.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "STEWARD_ENROLL_TOKEN",
            hide_env_values = true,
            required_unless_present = "token_file",
            conflicts_with = "token_file"
        )]
        token: Option<String>,
        /// Read the enrollment token from FILE (first line; `-` for standard input); the
        /// file must not be readable by every user.
        #[arg(long, value_name = "FILE", env = "STEWARD_ENROLL_TOKEN_FILE")]
        token_file: Option<PathBuf>,
        /// The server certificate's fingerprint as `steward server` printed it
        /// (sha256:HEX). Without it, the certificate presented now is trusted and pinned.
        #[arg(long, value_name = "sha256:HEX", env = "STEWARD_SERVER_PIN")]
        pin: Option<steward_core::CertFingerprint>,
        /// Let this device run scripts the server sends, signed with the key pinned now
        /// (off without it). Written to agent.toml in the state directory, which only
        /// someone on this device can change; the server cannot.
        #[arg(long)]
        allow_scripts: bool,
        #[command(flatten)]
        state: AgentStateArgs,
    },
    /// Run the agent: report inventory and metrics, run jobs. Runs until stopped.
    Run {
        #[command(flatten)]
        state: AgentStateArgs,
        /// Check-in interval override in seconds (default: what the server said at enrollment).
        #[arg(long, value_name = "SECS")]
        interval: Option<u64>,
        #[command(flatten)]
        posture: PostureArgs,
        /// How often to list pending updates with this machine's package manager, in hours
        /// (also at start and after each install); 0 turns the listing off (install jobs
        /// still run).
        #[arg(long, value_name = "HOURS", default_value_t = 6)]
        updates_every: u64,
        /// Do not watch for ransomware (on by default on Linux: the folders, canaries and
        /// responses of the server's detection policy for this device).
        #[arg(long, env = "STEWARD_NO_DETECTION", value_parser = clap::builder::BoolishValueParser::new())]
        no_detection: bool,
        /// Keep the code pages and freed heap a burst of work (start-up, an inventory, a
        /// job) leaves resident, instead of handing them back to the kernel after it: for
        /// measuring what handing them back saves (`steward-bench agent`).
        #[arg(long, hide = true)]
        keep_idle_memory: bool,
    },
    /// Print the inventory this agent would report, as JSON, and exit.
    Inventory,
    /// Evaluate the security posture checks on this machine, print each result (as JSON with
    /// --json), and exit. Reads the machine only; changes nothing.
    Posture {
        /// Print the report the agent would send, as JSON.
        #[arg(long)]
        json: bool,
        /// A directory of your own `*.toml` check files, added to the built-in checks.
        #[arg(long, value_name = "DIR")]
        posture_pack: Option<PathBuf>,
    },
    /// Run one backup or restore for the agent (started by `steward agent run`, which
    /// sends the order on standard input).
    #[command(hide = true)]
    BackupWorker {
        #[command(flatten)]
        state: AgentStateArgs,
    },
    /// Record what the ransomware sensor sees of some folders, as a trace of the
    /// detector's events (JSON lines) to replay without privileges: attach one to a report
    /// of a false alarm or a missed attack. Runs for --seconds, or until stopped (Ctrl-C).
    RecordTrace {
        /// A folder to watch (repeat for each).
        #[arg(long = "dir", value_name = "DIR", required = true)]
        dirs: Vec<PathBuf>,
        /// Where the trace is written (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// How long to record.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        seconds: u64,
        /// Rewrite a leading folder in every path, FROM=TO (e.g. the folder's real name to
        /// /srv/share), so the trace does not name this machine's folders.
        #[arg(long, value_name = "FROM=TO", value_parser = parse_rewrite)]
        rewrite: Vec<(String, String)>,
    },
    /// The ransomware drill's harmless simulated attack (started by the agent's
    /// `ransomware_drill` job, and by tests and the benchmark): with --generate, make a
    /// tree of --files documents at --dir; otherwise "encrypt" that tree (and only the
    /// files it made) the --mode way. Running it again with the same --key undoes it.
    #[command(hide = true)]
    SimulateAttack {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// in-place, encrypt-then-rename, copy-then-delete, intermittent, note-first,
        /// slow, workers or keep-extension.
        #[arg(long, default_value = "in-place", value_parser = parse_mode)]
        mode: steward_detect::simulate::Mode,
        #[arg(long)]
        generate: bool,
        #[arg(long, default_value_t = 200)]
        files: usize,
        #[arg(long, default_value_t = 0x5354_4557)]
        key: u64,
        /// A worker's share, I/N (set by the attack itself for its workers).
        #[arg(long, value_parser = steward_detect::simulate::attack::parse_part)]
        part: Option<(usize, usize)>,
        /// Walk the tree and attack every file in it (canaries placed there included),
        /// not only the files --generate made. Refused on a folder --generate did not make.
        #[arg(long)]
        walk: bool,
        /// No pause between files: this machine's full speed, not LockBit's 25,000 files
        /// a minute (the slow mode keeps its second).
        #[arg(long)]
        unthrottled: bool,
    },
}

fn parse_rewrite(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((from, to)) if from.starts_with('/') && to.starts_with('/') => Ok((
            from.trim_end_matches('/').into(),
            to.trim_end_matches('/').into(),
        )),
        _ => Err("expected FROM=TO, two absolute paths".into()),
    }
}

fn parse_mode(s: &str) -> Result<steward_detect::simulate::Mode, String> {
    steward_detect::simulate::Mode::parse(s).ok_or_else(|| {
        let modes: Vec<&str> = steward_detect::simulate::Mode::ALL
            .iter()
            .map(|m| m.as_str())
            .collect();
        format!("the modes are {}", modes.join(", "))
    })
}

#[derive(Debug, Args, Clone)]
pub struct AgentStateArgs {
    /// Where the agent keeps its identity and queued reports
    /// [default: /var/lib/steward/agent as root, else ~/.local/state/steward/agent].
    #[arg(long, env = "STEWARD_AGENT_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub target: AdminTarget,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Which installation to administer: its data directory (the default deployment) or its
/// database URL.
#[derive(Debug, Args, Clone, Default)]
pub struct AdminTarget {
    /// TOML config file of the installation.
    #[arg(long, global = true, env = "STEWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory of the installation [default: ./steward-data].
    #[arg(long, global = true, env = "STEWARD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL of the installation (instead of --data-dir).
    #[arg(
        long,
        global = true,
        env = "STEWARD_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Read the database URL from FILE (not readable by all users).
    #[arg(
        long,
        global = true,
        env = "STEWARD_DATABASE_URL_FILE",
        value_name = "FILE",
        conflicts_with = "database"
    )]
    pub database_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Enrollment tokens, for `steward agent enroll`.
    #[command(name = "enroll-token", subcommand)]
    EnrollToken(EnrollTokenCommand),
    /// API tokens, for the REST API.
    #[command(name = "api-token", subcommand)]
    ApiToken(ApiTokenCommand),
    /// Devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Console users.
    #[command(subcommand)]
    User(UserCommand),
    /// Device groups (sites).
    #[command(subcommand)]
    Group(GroupCommand),
    /// Security settings.
    #[command(subcommand)]
    Security(SecurityCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Monitoring checks: network monitors and device checks.
    #[command(subcommand)]
    Checks(ChecksCommand),
    /// Alerts: what is wrong now, what recovered; acknowledging a problem.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Maintenance windows: times when what they cover pages nobody.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// Notification channels: listing (secrets masked) and sending a test.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Backups: run one now, list snapshots and their files, restore, show a password,
    /// manage policies.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Security posture: answer the checklist's manual items, accept a risk.
    #[command(subcommand)]
    Posture(PostureCommand),
    /// Pending updates: list them, install now, approve versions, patch policies.
    #[command(subcommand)]
    Updates(UpdatesCommand),
    /// The script library: add, change, run on devices that allow scripts.
    #[command(subcommand)]
    Script(ScriptCommand),
    /// Jobs sent to many devices: their progress per device.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Ransomware and intrusion detections: list, show, decide.
    #[command(subcommand)]
    Detections(DetectionsCommand),
    /// Detection policies: the folders each device protects, canaries, automatic responses.
    #[command(subcommand)]
    DetectionPolicy(DetectionPolicyCommand),
    /// Fire drills: `steward admin drill ransomware --device NAME [--wait]`.
    #[command(subcommand)]
    Drill(DrillCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; fails if any entry was changed, removed or reordered.
    Verify,
    /// Print the audit log as CSV, oldest first.
    Export {
        /// Only entries of this action, e.g. sign_in_failed.
        #[arg(long, value_name = "ACTION")]
        action: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnrollTokenCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        /// How many devices may enroll with it.
        #[arg(long, default_value_t = 1, value_name = "N")]
        uses: u32,
        /// How long it stays valid, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_name = "DURATION")]
        expires: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Create an API token and print it (it is shown only once).
    Create {
        /// What the token is for, e.g. "backup-script".
        #[arg(long, value_name = "NAME")]
        name: String,
        /// What the token may do: viewer (read only), technician (operate devices) or admin.
        #[arg(long, default_value = "viewer", value_name = "ROLE")]
        role: String,
        /// How long it stays valid, e.g. 30d, or "never".
        #[arg(long, default_value = "90d", value_name = "DURATION")]
        expires: String,
        /// The user the token belongs to: it never does more than they may, and disabling
        /// or deleting them revokes it.
        #[arg(long, value_name = "USER")]
        owner: String,
    },
    /// List API tokens (never their secrets).
    List,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List enrolled devices.
    List,
    /// Ask a device's agent to collect and report its inventory now.
    Refresh {
        /// Device name (or id).
        name: String,
    },
    /// Cut a device off: its agent's credential stops working at once.
    Revoke {
        /// Device name (or id).
        name: String,
    },
    /// Give a device's agent a new credential; the old one stops working once the agent
    /// has switched (at its next request after picking up the job).
    #[command(name = "rotate-credential")]
    RotateCredential {
        /// Device name (or id).
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List console users.
    List,
    /// Create a user and print a one-time password.
    Create {
        /// Username.
        name: String,
        /// admin, technician or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Limit the user to these device groups (by name; repeat the flag).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// Change a user's role.
    SetRole { name: String, role: String },
    /// Disable a user (their sessions end at once).
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Delete a user.
    Delete { name: String },
    /// Set a new random password for a user and print it; ends the user's sessions.
    ResetPassword {
        /// Username.
        name: String,
    },
    /// Turn a user's two-factor sign-in off (a lost phone).
    #[command(name = "reset-2fa")]
    ResetTwoFactor { name: String },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List device groups (sites).
    List,
    /// Create a device group.
    Create { name: String },
    /// Put a device in a group (`--none` takes it out).
    Assign {
        /// Device name (or id).
        device: String,
        /// Group name.
        group: Option<String>,
        #[arg(long, conflicts_with = "group")]
        none: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecurityCommand {
    /// Show the security settings.
    Show,
    /// Roles that must sign in with a second factor, e.g. `admin,technician` ("" for none).
    #[command(name = "require-2fa")]
    Require2fa { roles: String },
}

/// How the running agent evaluates its security posture.
#[derive(Debug, Clone, clap::Args)]
pub struct PostureArgs {
    /// How often to evaluate the posture checks, in hours (they also run at start); 0 turns
    /// them off.
    #[arg(long, value_name = "HOURS", default_value_t = 6)]
    pub posture_every: u64,
    /// A directory of your own `*.toml` check files, added to the built-in checks. A
    /// malformed file is refused (with its file, line and reason) and the built-in checks
    /// run anyway.
    #[arg(long, value_name = "DIR")]
    pub posture_pack: Option<PathBuf>,
}

/// `steward report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub target: AdminTarget,
    /// html (print-ready), pdf, json (one entry per section, with its score and items) or csv.
    #[arg(long, value_name = "FORMAT", default_value = "json", value_parser = ["html", "pdf", "json", "csv"])]
    pub format: String,
    /// What the sections follow.
    #[arg(long, value_name = "FRAMEWORK", default_value = "checklist", value_parser = ["checklist", "cis-ig1", "cyber-essentials"])]
    pub framework: String,
    /// Write to FILE instead of standard output (a PDF is never written to a terminal).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
