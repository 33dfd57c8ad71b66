//! What a notification says: a [`Message`] of one or more [`Alert`]s (the server groups
//! alerts decided close together into one message), its one-line [`Message::title`], and the
//! plain-text rendering the text channels (mail, ntfy, Telegram) share.
//!
//! The message is stored as JSON in the server's outbox, so its shape is a contract: fields
//! are only ever added, with defaults.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
pub use steward_core::alerting::CheckStatus;

/// The longest title, in characters: it becomes a mail subject or an HTTP header.
pub const MAX_TITLE_CHARS: usize = 200;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A problem confirmed (or worsened).
    Problem,
    /// Back to OK; `previous` says from what.
    Recovery,
    /// Still a problem, still unacknowledged.
    Reminder,
    FlappingStarted,
    FlappingStopped,
    /// Someone took the problem on.
    Acknowledged,
    /// A "send test" from the console: nothing is wrong.
    Test,
}

/// One alert: a check (for one subject) and how it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub event: Event,
    /// The check's name.
    pub check: String,
    /// The device's name when the check is per device.
    #[serde(default)]
    pub subject: Option<String>,
    pub status: CheckStatus,
    /// The status before, for a recovery or a change between problems.
    #[serde(default)]
    pub previous: Option<CheckStatus>,
    /// A line for people: "HTTP 503 in 120 ms", "connection refused".
    #[serde(default)]
    pub summary: String,
    /// When it was decided, in milliseconds since the Unix epoch.
    pub at: i64,
    /// What to do about it (Markdown), from the check.
    #[serde(default)]
    pub runbook: String,
    /// The alert in the console.
    #[serde(default)]
    pub link: Option<String>,
}

/// One notification: the alerts it carries, in the order to show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub alerts: Vec<Alert>,
}

impl Message {
    /// A message of one alert.
    pub fn one(alert: Alert) -> Self {
        Self {
            alerts: vec![alert],
        }
    }

    /// One line saying what the message is about (a mail subject, a push title): at most
    /// [`MAX_TITLE_CHARS`] characters, no control characters.
    pub fn title(&self) -> String {
        let line = match self.alerts.as_slice() {
            [] => "Steward: no alerts".to_string(),
            [one] => one.title(),
            many => {
                let mut line = format!("{} alerts: ", many.len());
                for (i, alert) in many.iter().take(3).enumerate() {
                    if i > 0 {
                        line.push_str("; ");
                    }
                    line.push_str(&alert.title());
                }
                if many.len() > 3 {
                    line.push_str("; …");
                }
                line
            }
        };
        one_line(&line, MAX_TITLE_CHARS)
    }

    /// The message as plain text: each alert's title, status, time, summary, link and
    /// runbook, alerts separated by a blank line.
    pub fn text(&self) -> String {
        let mut text = String::new();
        if self.alerts.len() > 1 {
            text.push_str(&self.title());
            text.push_str("\n\n");
        }
        for (i, alert) in self.alerts.iter().enumerate() {
            if i > 0 {
                text.push_str("\n\n");
            }
            text.push_str(&alert.text());
        }
        text
    }

    /// The worst status among the alerts (a recovery counts as OK), for colours and
    /// priorities.
    pub fn worst(&self) -> CheckStatus {
        self.alerts
            .iter()
            .map(|a| a.status)
            .max_by_key(|s| s.urgency())
            .unwrap_or(CheckStatus::Ok)
    }

    /// Whether every alert is a test.
    pub fn is_test(&self) -> bool {
        !self.alerts.is_empty() && self.alerts.iter().all(|a| a.event == Event::Test)
    }
}

impl Alert {
    /// "CRITICAL: shop-website", "RECOVERED: disk on web-1 (was WARNING)".
    pub fn title(&self) -> String {
        let what = self.what();
        let status = shout(self.status);
        let line = match self.event {
            Event::Problem => format!("{status}: {what}"),
            Event::Recovery => match self.previous {
                Some(was) => format!("RECOVERED: {what} (was {})", shout(was)),
                None => format!("RECOVERED: {what}"),
            },
            Event::Reminder => format!("STILL {status}: {what}"),
            Event::FlappingStarted => format!("FLAPPING: {what}"),
            Event::FlappingStopped => format!("STOPPED FLAPPING: {what} ({status})"),
            Event::Acknowledged => format!("ACKNOWLEDGED: {what} ({status})"),
            Event::Test => format!("TEST: {what}"),
        };
        one_line(&line, MAX_TITLE_CHARS)
    }

    /// The check, and the device when there is one: "disk on web-1".
    pub fn what(&self) -> String {
        match self.subject.as_deref().filter(|s| !s.is_empty()) {
            Some(subject) => format!("{} on {subject}", self.check),
            None => self.check.clone(),
        }
    }

    /// The status line: "critical (was ok)".
    pub fn status_line(&self) -> String {
        match self.previous {
            Some(was) => format!("{} (was {})", self.status.as_str(), was.as_str()),
            None => self.status.as_str().to_string(),
        }
    }

    /// The time as RFC 3339 in UTC: "2026-11-28T10:00:00Z".
    pub fn when(&self) -> String {
        match u64::try_from(self.at) {
            Ok(ms) => humantime::format_rfc3339_seconds(
                SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            )
            .to_string(),
            Err(_) => format!("{} ms since 1970", self.at),
        }
    }

    /// One alert as plain text.
    pub fn text(&self) -> String {
        let mut text = self.title();
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "\nStatus: {}\nAt: {}",
            self.status_line(),
            self.when()
        );
        if !self.summary.trim().is_empty() {
            let _ = write!(text, "\nSummary: {}", self.summary.trim());
        }
        if let Some(link) = &self.link {
            let _ = write!(text, "\nConsole: {link}");
        }
        if !self.runbook.trim().is_empty() {
            let _ = write!(text, "\n\nRunbook:\n{}", self.runbook.trim());
        }
        text
    }
}

fn shout(status: CheckStatus) -> String {
    status.as_str().to_ascii_uppercase()
}

/// `text` on one line (control characters become spaces) and at most `max` characters
/// (cut with "…").
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&flat, max)
}

/// At most `max` characters of `text`, cut with "…" when longer.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert(event: Event, status: CheckStatus) -> Alert {
        Alert {
            event,
            check: "shop-website".into(),
            subject: None,
            status,
            previous: None,
            summary: "connection refused".into(),
            at: 1_795_000_000_000,
            runbook: "Restart nginx:\n\n    systemctl restart nginx".into(),
            link: Some("https://steward.example/alerts/1".into()),
        }
    }

    #[test]
    fn titles_say_what_and_how_it_stands() {
        let mut a = alert(Event::Problem, CheckStatus::Critical);
        assert_eq!(Message::one(a.clone()).title(), "CRITICAL: shop-website");
        a.subject = Some("web-1".into());
        assert_eq!(a.title(), "CRITICAL: shop-website on web-1");
        let mut r = alert(Event::Recovery, CheckStatus::Ok);
        r.previous = Some(CheckStatus::Warning);
        assert_eq!(r.title(), "RECOVERED: shop-website (was WARNING)");
        assert_eq!(
            alert(Event::Reminder, CheckStatus::Critical).title(),
            "STILL CRITICAL: shop-website"
        );
        assert_eq!(
            alert(Event::Test, CheckStatus::Ok).title(),
            "TEST: shop-website"
        );
        let many = Message {
            alerts: vec![a.clone(), r.clone(), a.clone(), r],
        };
        assert_eq!(
            many.title(),
            "4 alerts: CRITICAL: shop-website on web-1; RECOVERED: shop-website (was WARNING); \
             CRITICAL: shop-website on web-1; …"
        );
        assert_eq!(many.worst(), CheckStatus::Critical);
    }

    #[test]
    fn a_title_is_one_bounded_line_whatever_the_names() {
        let mut a = alert(Event::Problem, CheckStatus::Critical);
        a.check = format!("evil\r\nBcc: x@y\n{}", "é".repeat(500));
        let title = Message::one(a).title();
        assert!(!title.chars().any(char::is_control), "{title:?}");
        assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn the_text_has_status_time_summary_link_and_runbook() {
        let mut a = alert(Event::Recovery, CheckStatus::Ok);
        a.previous = Some(CheckStatus::Critical);
        let text = Message::one(a).text();
        assert_eq!(
            text,
            "RECOVERED: shop-website (was CRITICAL)\n\
             Status: ok (was critical)\n\
             At: 2026-11-18T11:06:40Z\n\
             Summary: connection refused\n\
             Console: https://steward.example/alerts/1\n\n\
             Runbook:\nRestart nginx:\n\n    systemctl restart nginx"
        );
    }

    #[test]
    fn the_json_is_the_outbox_contract() {
        let mut a = alert(Event::FlappingStarted, CheckStatus::Unknown);
        a.subject = Some("web-1".into());
        let json = serde_json::to_value(Message::one(a.clone())).unwrap();
        assert_eq!(json["alerts"][0]["event"], "flapping_started");
        assert_eq!(json["alerts"][0]["status"], "unknown");
        assert_eq!(json["alerts"][0]["subject"], "web-1");
        assert_eq!(json["alerts"][0]["previous"], serde_json::Value::Null);
        let back: Message = serde_json::from_value(json).unwrap();
        assert_eq!(back.alerts[0], a);
        // Optional fields may be missing (older rows, other writers).
        let minimal: Message = serde_json::from_str(
            r#"{"alerts":[{"event":"problem","check":"c","status":"warning","at":0}]}"#,
        )
        .unwrap();
        assert_eq!(minimal.alerts[0].runbook, "");
        assert!(
            serde_json::from_str::<Message>(
                r#"{"alerts":[{"event":"boom","check":"c","status":"warning","at":0}]}"#
            )
            .is_err()
        );
    }
}
