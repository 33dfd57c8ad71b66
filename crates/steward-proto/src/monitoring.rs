//! Monitoring over the REST API: checks, alerts, maintenance windows, channels and routes.

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
use steward_core::alerting::CheckStatus;
use steward_core::alerting::window::Window;
use utoipa::{IntoParams, ToSchema};

/// A check as defined.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckInfo {
    pub id: String,
    pub name: String,
    /// `http`, `tcp`, … for a network monitor; `disk`, `memory`, `cpu`, `load`, `heartbeat`,
    /// `unit`, `failed_units`, `process` for a device check.
    pub kind: String,
    /// The kind's settings, with `kind` (see [`CreateCheck::check`]).
    #[schema(value_type = Object)]
    pub check: serde_json::Value,
    /// Which devices a device check covers (`all`, `device:ID`, `group:ID`, `tag:NAME`);
    /// null for a network monitor.
    pub target: Option<String>,
    pub interval_secs: u64,
    pub retries: u32,
    /// A problem is confirmed only once it has lasted this long (0: at once).
    pub sustain_secs: u64,
    /// Minutes between reminders of an unacknowledged problem (null: none).
    pub renotify_minutes: Option<u64>,
    /// The check this one depends on: while it is down, this one pages nobody.
    pub parent_id: Option<String>,
    /// Markdown shown with its alerts.
    pub runbook: String,
    /// `console` (made in the console, API or CLI), `config` (declared in the configuration
    /// file: change it there) or `default` (installed with Steward).
    pub source: String,
    pub enabled: bool,
    /// Who runs it: `server`, or `device:ID` for a probe run by that device's agent.
    pub runner: String,
    pub updated_at: Timestamp,
}

/// A new check, or a check's new definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateCheck {
    /// Unique, 1 to 100 characters.
    pub name: String,
    /// What to judge, by `kind`. Device checks: `{"kind":"disk","mount":"/","warn_percent":90,
    /// "critical_percent":95}`, `{"kind":"memory"|"cpu","warn_percent":…,"critical_percent":…}`,
    /// `{"kind":"load","warn":…,"critical":…}`, `{"kind":"heartbeat","missed_after_secs":600}`,
    /// `{"kind":"unit","unit":"nginx.service"}`, `{"kind":"failed_units"}`,
    /// `{"kind":"process","name":"postgres","min_count":1}`. Network monitors:
    /// `{"kind":"http","url":…}`, `{"kind":"tcp","host":…,"port":…}` and the other probes.
    #[schema(value_type = Object)]
    pub check: serde_json::Value,
    /// Device checks: `all` (the default), `device:ID`, `group:ID` or `tag:NAME`.
    #[serde(default)]
    pub target: Option<String>,
    /// Network monitors: seconds between runs (default 60, at least 1).
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// Network monitors: seconds before a probe gives up (default 10).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Failures after the first before a problem is confirmed (default 2 for network
    /// monitors, 0 for device checks).
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub sustain_secs: Option<u64>,
    /// Default 240; 0 for no reminders.
    #[serde(default)]
    pub renotify_minutes: Option<u64>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub runbook: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Network monitors: who runs the probe — `server` (the default) or `device:ID`, that
    /// device's agent (for a target only the site's own network reaches).
    #[serde(default)]
    pub runner: Option<String>,
}

/// An alert: a check's state for one subject.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertInfo {
    pub check_id: String,
    pub check: String,
    pub kind: String,
    /// The device's id, or empty for a network monitor.
    pub subject: String,
    pub device: Option<String>,
    pub status: CheckStatus,
    pub since: Timestamp,
    pub summary: String,
    pub runbook: String,
    pub flapping: bool,
    pub acknowledged: Option<AcknowledgementInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcknowledgementInfo {
    pub by: String,
    pub comment: String,
    pub at: Timestamp,
}

/// Open alerts and those resolved lately.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertsView {
    /// Worst first: critical, unknown, warning; then the oldest first.
    pub open: Vec<AlertInfo>,
    pub resolved: Vec<ResolvedInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResolvedInfo {
    pub check_id: String,
    pub check: String,
    pub subject: String,
    pub device: Option<String>,
    pub was: CheckStatus,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only this status (`critical`, `warning`, `unknown`).
    pub status: Option<String>,
    /// `true`: only acknowledged; `false`: only unacknowledged.
    pub acknowledged: Option<bool>,
    /// Only this device (id).
    pub device: Option<String>,
    /// Resolved within this many hours (default 24, at most 720).
    pub resolved_hours: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Acknowledge {
    /// The check's id.
    pub check_id: String,
    /// The device's id (empty for a network monitor).
    #[serde(default)]
    pub subject: String,
    /// Why, or what is being done: 1 to 1,000 characters.
    pub comment: String,
}

/// A line of a check's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryInfo {
    pub at: Timestamp,
    /// `change` or `acknowledged`.
    pub event: String,
    pub from: String,
    pub to: String,
    pub summary: String,
    pub actor: String,
}

/// A maintenance window.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WindowInfo {
    pub id: String,
    pub name: String,
    /// `all`, `device:ID`, `group:ID`, `tag:NAME` or `check:ID`.
    pub target: String,
    #[schema(value_type = Object)]
    pub schedule: Window,
    pub comment: String,
    pub source: String,
    pub created_by: String,
    /// Whether it is open now.
    pub open: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateWindow {
    pub name: String,
    pub target: String,
    /// `{"kind":"once","start":MS,"end":MS}` or `{"kind":"weekly","days":[0..6 = Mon..Sun],
    /// "start_minute":MINUTES_AFTER_MIDNIGHT_UTC,"minutes":LENGTH}`.
    #[schema(value_type = Object)]
    pub schedule: Window,
    #[serde(default)]
    pub comment: String,
}

/// A notification channel; secrets are never shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Where it sends, with secrets masked.
    pub summary: String,
    pub source: String,
    pub routes: Vec<RouteInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateChannel {
    pub name: String,
    /// The channel by `kind`: `{"kind":"webhook","url":…}` and the other kinds (see the
    /// configuration guide).
    #[schema(value_type = Object)]
    pub channel: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RouteInfo {
    pub id: String,
    pub channel_id: String,
    pub min_status: CheckStatus,
    pub devices: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateRoute {
    pub channel_id: String,
    /// `warning` (and worse), `unknown` (and critical) or `critical`.
    pub min_status: CheckStatus,
    /// `all`, `device:ID`, `group:ID` or `tag:NAME`.
    #[serde(default = "all")]
    pub devices: String,
}

fn all() -> String {
    "all".into()
}

/// What a test message did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelTestResult {
    pub delivered: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// A notification in the outbox: what it says, where it goes, how its delivery stands.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryInfo {
    pub id: i64,
    pub channel_id: String,
    /// The channel's name (empty once the channel is deleted).
    pub channel: String,
    /// The message's one-line title ("CRITICAL: shop-website").
    pub title: String,
    /// `delivered`, `retrying` (an attempt failed; tried again at `next_attempt_at`) or
    /// `waiting` (not tried yet).
    pub state: String,
    pub attempts: i64,
    /// Why the last attempt failed (empty when none did).
    pub last_error: String,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}
