//! `steward admin checks|alerts|maintenance|channels`: the subcommands and flags of
//! monitoring. A check or a maintenance window is described by the same keys as in the
//! config file (`[[checks]]`, `[[maintenance]]`), given as flags or as TOML.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ChecksCommand {
    /// List the checks: network monitors and device checks, with how each stands.
    List {
        /// Print JSON (as the API's /api/v1/checks) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one check: its settings and how it stands.
    Show {
        /// The check's name (or id).
        check: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a check, described by flags or by TOML with the keys of a [[checks]] entry
    /// (docs/CONFIGURATION.md), e.g.
    /// `steward admin checks add shop --kind http --url https://shop.example.com/` or
    /// `steward admin checks add disk-shop --kind disk --group Shop --warn-percent 80`.
    Add(Box<AddCheck>),
    /// Remove a check (one declared in the config file is removed there).
    Remove {
        /// The check's name (or id).
        check: String,
    },
}

#[derive(Debug, Args)]
pub struct AddCheck {
    /// The check's name (or `name` in the TOML).
    pub name: Option<String>,
    /// The check as TOML: `kind = "tcp"`, `host = "db"`… on lines, or one inline table
    /// `{ kind = "tcp", host = "db", port = 5432 }`. Flags add to it.
    #[arg(long, value_name = "TOML", conflicts_with = "toml_file")]
    pub toml: Option<String>,
    /// Read that TOML from FILE (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub toml_file: Option<PathBuf>,
    /// Network monitors: the device whose agent runs the probe (name or id), for a target
    /// only that site's network reaches [default: the server].
    #[arg(long, value_name = "DEVICE")]
    pub runner: Option<String>,
    #[command(flatten)]
    pub settings: CheckSettings,
}

/// A check's settings as flags, each the config file's key of the same name
/// (`--expect-status` is `expect_status`).
#[derive(Debug, Args, Default)]
pub struct CheckSettings {
    /// http, tcp, tls, dns, icmp (network monitors); disk, memory, cpu, load, heartbeat,
    /// unit, failed_units, process (device checks).
    #[arg(long, help_heading = "Every check")]
    pub kind: Option<String>,
    /// Failures after the first before a problem is confirmed [default: 2 for network
    /// monitors, 0 for device checks].
    #[arg(long, value_name = "N", help_heading = "Every check")]
    pub retries: Option<u32>,
    /// What to do about it (Markdown), shown with its alerts.
    #[arg(long, value_name = "TEXT", help_heading = "Every check")]
    pub runbook: Option<String>,

    /// How often it runs, e.g. 30s, 5m [default: 1m].
    #[arg(long, value_name = "DURATION", help_heading = "Network monitors")]
    pub interval: Option<String>,
    /// How long one run may take [default: 10s].
    #[arg(long, value_name = "DURATION", help_heading = "Network monitors")]
    pub timeout: Option<String>,
    /// http: the URL to GET.
    #[arg(long, help_heading = "Network monitors")]
    pub url: Option<String>,
    /// tcp, tls, icmp: the host; dns: the name to look up.
    #[arg(long, help_heading = "Network monitors")]
    pub host: Option<String>,
    /// tcp, tls: the port.
    #[arg(long, help_heading = "Network monitors")]
    pub port: Option<u16>,
    /// http: the status expected [default: any 2xx or 3xx].
    #[arg(long, value_name = "STATUS", help_heading = "Network monitors")]
    pub expect_status: Option<u16>,
    /// http: text the body must contain.
    #[arg(long, help_heading = "Network monitors")]
    pub keyword: Option<String>,
    /// http: a JSON Pointer into a JSON body, e.g. /status.
    #[arg(long, value_name = "POINTER", help_heading = "Network monitors")]
    pub json_pointer: Option<String>,
    /// http: the value there (JSON: "ok" with quotes, 42, true; else taken as text).
    #[arg(long, value_name = "VALUE", help_heading = "Network monitors")]
    pub json_value: Option<String>,
    /// http: slower than this many milliseconds is a warning…
    #[arg(long, value_name = "MS", help_heading = "Network monitors")]
    pub warn_ms: Option<u32>,
    /// …and slower than this critical.
    #[arg(long, value_name = "MS", help_heading = "Network monitors")]
    pub critical_ms: Option<u32>,
    /// http (https): a certificate expiring within this many days is a warning…
    #[arg(long, value_name = "DAYS", help_heading = "Network monitors")]
    pub cert_warn_days: Option<u32>,
    /// …and within this many days critical.
    #[arg(long, value_name = "DAYS", help_heading = "Network monitors")]
    pub cert_critical_days: Option<u32>,
    /// http, tls: also trust this CA (PEM file).
    #[arg(long, value_name = "FILE", help_heading = "Network monitors")]
    pub ca_file: Option<String>,
    /// tls: the name the certificate must be for.
    #[arg(long, value_name = "NAME", help_heading = "Network monitors")]
    pub server_name: Option<String>,
    /// tls: expiring within this many days is a warning [default: 14]…
    #[arg(long, value_name = "DAYS", help_heading = "Network monitors")]
    pub warn_days: Option<u32>,
    /// …and within this many days critical [default: 3].
    #[arg(long, value_name = "DAYS", help_heading = "Network monitors")]
    pub critical_days: Option<u32>,
    /// dns: A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, PTR or CAA [default: A].
    #[arg(long, value_name = "TYPE", help_heading = "Network monitors")]
    pub record_type: Option<String>,
    /// dns: the server to ask (ADDRESS or ADDRESS:PORT) [default: /etc/resolv.conf's].
    #[arg(long, value_name = "ADDRESS", help_heading = "Network monitors")]
    pub server: Option<String>,
    /// dns: a record must be this.
    #[arg(long, value_name = "VALUE", help_heading = "Network monitors")]
    pub expect: Option<String>,
    /// icmp: echo requests to send [default: 3].
    #[arg(long, value_name = "N", help_heading = "Network monitors")]
    pub count: Option<u16>,

    /// Only this device (name or id) [default: every device].
    #[arg(long, help_heading = "Device checks")]
    pub device: Option<String>,
    /// Only the devices of this group (name).
    #[arg(long, help_heading = "Device checks")]
    pub group: Option<String>,
    /// Only the devices with this tag.
    #[arg(long, help_heading = "Device checks")]
    pub tag: Option<String>,
    /// A problem counts once it has lasted this long, e.g. 10m [default: at once].
    #[arg(long, value_name = "DURATION", help_heading = "Device checks")]
    pub sustain: Option<String>,
    /// disk: this mount point only [default: the fullest filesystem].
    #[arg(long, value_name = "PATH", help_heading = "Device checks")]
    pub mount: Option<String>,
    /// disk, memory, cpu: a warning above this percentage…
    #[arg(long, value_name = "PERCENT", help_heading = "Device checks")]
    pub warn_percent: Option<f64>,
    /// …and critical above this one.
    #[arg(long, value_name = "PERCENT", help_heading = "Device checks")]
    pub critical_percent: Option<f64>,
    /// load: a warning above this one-minute load…
    #[arg(long, value_name = "LOAD", help_heading = "Device checks")]
    pub warn: Option<f64>,
    /// …and critical above this one.
    #[arg(long, value_name = "LOAD", help_heading = "Device checks")]
    pub critical: Option<f64>,
    /// heartbeat: critical after no check-in for this long [default: 10m].
    #[arg(long, value_name = "DURATION", help_heading = "Device checks")]
    pub missed_after: Option<String>,
    /// unit: the systemd unit that must be active, e.g. nginx.service.
    #[arg(long, help_heading = "Device checks")]
    pub unit: Option<String>,
    /// process: the executable's name that must run.
    #[arg(long, value_name = "NAME", help_heading = "Device checks")]
    pub process: Option<String>,
    /// process: at least this many of it [default: 1].
    #[arg(long, value_name = "N", help_heading = "Device checks")]
    pub min_count: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// What is wrong now, worst first.
    List {
        /// Also what recovered lately (see --hours).
        #[arg(long, conflicts_with = "resolved")]
        all: bool,
        /// Only what recovered lately.
        #[arg(long)]
        resolved: bool,
        /// "Lately" is the last this many hours (at most 720).
        #[arg(long, default_value_t = 24, value_name = "N")]
        hours: u32,
        /// Print JSON (as the API's /api/v1/alerts) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a problem: no reminders until it recovers. The comment says what is
    /// being done; it is kept in the check's history and the audit log.
    Ack {
        /// The alert as `alerts list` names it: CHECK for a network monitor, CHECK@DEVICE
        /// for a device check (CHECK alone when one device has the problem).
        alert: String,
        #[arg(long, value_name = "TEXT")]
        comment: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// List maintenance windows, and whether each is open now.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a window: while it is open, what it covers pages nobody. One-off with --from
    /// and --until (or --for), recurring with --days, --at and --for; times are UTC.
    Add(Box<AddWindow>),
    /// Remove a window (one declared in the config file is removed there).
    Remove {
        /// The window's name (or id).
        window: String,
    },
}

#[derive(Debug, Args)]
pub struct AddWindow {
    pub name: String,
    /// Only this device (name or id) [default: everything].
    #[arg(long, group = "covers")]
    pub device: Option<String>,
    /// Only the devices of this group (name).
    #[arg(long, group = "covers")]
    pub group: Option<String>,
    /// Only the devices with this tag.
    #[arg(long, group = "covers")]
    pub tag: Option<String>,
    /// Only this check (name or id).
    #[arg(long, group = "covers")]
    pub check: Option<String>,
    /// One-off: when it opens, e.g. "2026-05-01 22:00", now or +1h [default: now].
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// One-off: when it closes, e.g. "2026-05-02 02:00" or +2h.
    #[arg(long, value_name = "TIME", conflicts_with = "for_")]
    pub until: Option<String>,
    /// How long it stays open, e.g. 2h.
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: Option<String>,
    /// Recurring: on these days, e.g. sat,sun, weekdays or daily.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["from", "until"])]
    pub days: Option<String>,
    /// Recurring: from this time of day (UTC), e.g. 22:00.
    #[arg(long, value_name = "HH:MM", requires = "days")]
    pub at: Option<String>,
    /// Why (shown with the window).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// List notification channels and their routes (secrets masked). Channels are made in
    /// the console, the API or the config file, since they carry secrets.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a test message through a channel now and say whether it arrived.
    Test {
        /// The channel's name (or id).
        channel: String,
    },
}
