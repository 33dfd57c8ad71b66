//! Watching Steward itself: the counters, histograms and gauges served at `/metrics` in the
//! Prometheus text format (version 0.0.4), and who may read them ([`access`]).
//!
//! One [`Telemetry`] per server state (not a process-wide recorder), so every server in a
//! test process counts only its own work. The values are plain atomics and short mutexes
//! updated where the work happens — a check-in stored (`agent_api`), a request answered
//! (`web::layers`), a check run (`monitoring::scheduler`), a notification sent
//! (`monitoring::notifier`) — and the queue depths are read from the database at scrape time
//! ([`scrape`]), at most once a second.
//!
//! Labels are bounded sets, never request data: the matched route template (not the raw
//! path), the method among the standard ones, the status class, a check's kind and status,
//! a channel's kind.
//!
//! `prometheus-client` (the Prometheus project's own Rust client) rather than the `metrics`
//! facade: it keeps an explicit registry per server instead of one global recorder, and
//! writes the text format itself.

pub mod access;
pub mod scrape;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use steward_store::QueueDepths;

pub use access::{MetricsAccess, MetricsToken};

/// Request latencies: a millisecond to the agents' long-poll (up to a minute).
const HTTP_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Ingest of one delivery: its target is p99 ≤ 50 ms, so the buckets are fine below that.
const INGEST_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// How late a check starts: its target is p99 ≤ 1 s, so the buckets are fine around that.
const LATENESS_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 30.0, 60.0,
];

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The matched route template (`/api/v1/devices/{id}`), or `unmatched`.
    route: String,
    method: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx` (`1xx` never reaches the layer).
    status_class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    kind: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

/// Steward's own metrics; see the module documentation.
pub struct Telemetry {
    registry: Registry,
    checkins: Counter,
    ingest_seconds: Histogram,
    http_seconds: Family<HttpLabels, Histogram>,
    checks_run: Family<CheckLabels, Counter>,
    check_lateness_seconds: Histogram,
    notifications_sent: Family<ChannelLabels, Counter>,
    notification_failures: Family<ChannelLabels, Counter>,
    notifications_pending: Gauge,
    checks_due: Gauge,
    checks_overdue: Gauge,
    jobs_queued: Gauge,
    /// When the queue depths were last read (see [`scrape`]).
    pub(crate) depths_read_at: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let checkins = Counter::default();
        registry.register(
            "steward_checkins",
            "Agent deliveries of reports stored (check-ins)",
            checkins.clone(),
        );
        let ingest_seconds = Histogram::new(INGEST_BUCKETS);
        registry.register_with_unit(
            "steward_ingest_duration",
            "Time to parse, decide and store one delivery of agent reports",
            Unit::Seconds,
            ingest_seconds.clone(),
        );
        let http_seconds =
            Family::<HttpLabels, Histogram>::new_with_constructor(http_histogram as fn() -> _);
        registry.register_with_unit(
            "steward_http_request_duration",
            "HTTP requests answered, by matched route template, method and status class",
            Unit::Seconds,
            http_seconds.clone(),
        );
        let checks_run = Family::<CheckLabels, Counter>::default();
        registry.register(
            "steward_checks_run",
            "Check runs, by check kind and the status the run found",
            checks_run.clone(),
        );
        let check_lateness_seconds = Histogram::new(LATENESS_BUCKETS);
        registry.register_with_unit(
            "steward_check_lateness",
            "How late each check run started: start time minus due time",
            Unit::Seconds,
            check_lateness_seconds.clone(),
        );
        let notifications_sent = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "steward_notifications_sent",
            "Notifications delivered, by channel kind",
            notifications_sent.clone(),
        );
        let notification_failures = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "steward_notification_failures",
            "Notification deliveries that failed (each is retried), by channel kind",
            notification_failures.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let notifications_pending = gauge(
            &mut registry,
            "steward_notifications_pending",
            "Notifications not yet delivered (due, or backing off after a failure)",
        );
        let checks_due = gauge(
            &mut registry,
            "steward_checks_due",
            "Check runs due and not yet recorded",
        );
        let checks_overdue = gauge(
            &mut registry,
            "steward_checks_overdue",
            "Check runs due for more than a second and not yet recorded",
        );
        let jobs_queued = gauge(
            &mut registry,
            "steward_jobs_queued",
            "Jobs queued for devices and not yet taken",
        );
        Self {
            registry,
            checkins,
            ingest_seconds,
            http_seconds,
            checks_run,
            check_lateness_seconds,
            notifications_sent,
            notification_failures,
            notifications_pending,
            checks_due,
            checks_overdue,
            jobs_queued,
            depths_read_at: tokio::sync::Mutex::new(None),
        }
    }

    /// A delivery of agent reports was stored, taking `took`.
    pub fn checkin_stored(&self, took: Duration) {
        self.checkins.inc();
        self.ingest_seconds.observe(took.as_secs_f64());
    }

    /// A request was answered. `route` is the matched template, `None` when nothing matched.
    pub fn request_answered(
        &self,
        route: Option<&str>,
        method: &axum::http::Method,
        status: axum::http::StatusCode,
        took: Duration,
    ) {
        let labels = HttpLabels {
            route: route.unwrap_or("unmatched").to_string(),
            method: method_label(method),
            status_class: status_class(status),
        };
        self.http_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// A check of `kind` ran, found `status`, and started `lateness` after it was due.
    pub fn check_ran(
        &self,
        kind: &str,
        status: steward_core::alerting::CheckStatus,
        lateness: Duration,
    ) {
        let labels = CheckLabels {
            kind: kind.to_string(),
            status: status.as_str(),
        };
        self.checks_run.get_or_create(&labels).inc();
        self.check_lateness_seconds.observe(lateness.as_secs_f64());
    }

    /// A notification through a channel of `kind` was delivered, or failed.
    pub fn notification_attempted(&self, kind: &str, delivered: bool) {
        let labels = ChannelLabels {
            channel: kind.to_string(),
        };
        let family = if delivered {
            &self.notifications_sent
        } else {
            &self.notification_failures
        };
        family.get_or_create(&labels).inc();
    }

    /// The queue depths as last read from the database.
    pub(crate) fn set_depths(&self, d: &QueueDepths) {
        self.notifications_pending.set(d.notifications_pending);
        self.checks_due.set(d.checks_due);
        self.checks_overdue.set(d.checks_overdue);
        self.jobs_queued.set(d.jobs_queued);
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// The method as a label: the standard ones by name, anything else as `other` (a client may
/// send any token as a method, and labels must stay a bounded set).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: axum::http::StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests;
