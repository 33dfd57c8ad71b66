#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::http::{Method, StatusCode};
use steward_core::alerting::CheckStatus;

use super::Telemetry;

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn every_metric_is_written_in_the_text_format_with_bounded_labels() {
    let t = Telemetry::new();
    t.checkin_stored(Duration::from_millis(3));
    t.request_answered(
        Some("/api/v1/devices/{id}"),
        &Method::GET,
        StatusCode::OK,
        Duration::from_millis(2),
    );
    let odd = Method::from_bytes(b"BREW").unwrap();
    t.request_answered(None, &odd, StatusCode::NOT_FOUND, Duration::from_millis(1));
    t.check_ran("http", CheckStatus::Critical, Duration::from_millis(420));
    t.notification_attempted("webhook", true);
    t.notification_attempted("webhook", false);
    t.set_depths(&steward_store::QueueDepths {
        notifications_pending: 3,
        checks_due: 7,
        checks_overdue: 1,
        jobs_queued: 2,
    });
    let text = t.encode();
    for (prefix, value) in [
        ("steward_checkins_total ", "1"),
        ("steward_ingest_duration_seconds_count ", "1"),
        (
            "steward_http_request_duration_seconds_count{route=\"/api/v1/devices/{id}\",method=\"GET\",status_class=\"2xx\"}",
            "1",
        ),
        (
            "steward_http_request_duration_seconds_count{route=\"unmatched\",method=\"other\",status_class=\"4xx\"}",
            "1",
        ),
        (
            "steward_checks_run_total{kind=\"http\",status=\"critical\"}",
            "1",
        ),
        ("steward_check_lateness_seconds_bucket{le=\"0.3\"}", "0"),
        ("steward_check_lateness_seconds_bucket{le=\"0.5\"}", "1"),
        ("steward_notifications_sent_total{channel=\"webhook\"}", "1"),
        (
            "steward_notification_failures_total{channel=\"webhook\"}",
            "1",
        ),
        ("steward_notifications_pending ", "3"),
        ("steward_checks_due ", "7"),
        ("steward_checks_overdue ", "1"),
        ("steward_jobs_queued ", "2"),
    ] {
        let l = line(&text, prefix).unwrap_or_else(|| panic!("{prefix} missing in\n{text}"));
        assert_eq!(l.rsplit(' ').next(), Some(value), "{l}");
    }
    assert!(text.contains("# TYPE steward_check_lateness_seconds histogram"));
    assert!(!text.contains("BREW"));
}

#[test]
fn each_server_counts_only_its_own_work() {
    let one = Telemetry::new();
    let two = Telemetry::new();
    one.checkin_stored(Duration::from_millis(1));
    assert!(line(&one.encode(), "steward_checkins_total 1").is_some());
    assert!(line(&two.encode(), "steward_checkins_total 0").is_some());
}
