//! The detections the server makes from facts it already has, without any process: a new
//! administrator account and a new port listening beyond loopback (from the inventory's
//! change events, so never at a device's first inventory), protection turned off (the
//! firewall or anti-malware posture checks going from pass to fail), and the agent stopped
//! on purpose (silent past its window after a report that said it was stopping). Each is
//! given a `local_id` of its own facts, so judging the same facts twice records it once.

use super::{Detected, DetectionKind};
use crate::Timestamp;
use crate::changes::{ChangeEvent, ChangeKind};

/// The posture checks whose failure after a pass means protection was turned off.
pub const PROTECTION_CHECKS: &[(&str, &str)] = &[
    ("firewall-default-deny-inbound", "the firewall"),
    ("anti-malware-present", "anti-malware protection"),
    ("anti-malware-running", "anti-malware protection"),
];

fn detected(local_id: String, kind: DetectionKind, at: Timestamp, summary: String) -> Detected {
    Detected {
        // Bounded as the report's own ids are (subjects come from a bounded inventory).
        local_id: local_id.chars().take(200).collect(),
        kind,
        detected_at: at,
        summary: summary.chars().take(500).collect(),
        process: None,
        ancestors: Vec::new(),
        signals: Vec::new(),
        files: Vec::new(),
        responses: Vec::new(),
        drill: None,
    }
}

/// Whether a listener's address (`tcp/127.0.0.1:5432`, `tcp/[::1]:631`) is loopback only.
fn loopback(subject: &str) -> bool {
    let address = subject.split_once('/').map_or(subject, |(_, a)| a);
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with("127.") || host == "::1" || host == "localhost"
}

/// A new administrator and a new non-loopback listener, from one delivery's change events.
pub fn from_changes(changes: &[(Timestamp, ChangeEvent)]) -> Vec<Detected> {
    changes
        .iter()
        .filter_map(|(at, e)| match e.kind {
            ChangeKind::AdminAdded => Some(detected(
                format!("server:new_administrator:{}:{}", e.subject, at.0),
                DetectionKind::NewAdministrator,
                *at,
                format!(
                    "{} became an administrator (sudo, wheel or admin)",
                    e.subject
                ),
            )),
            ChangeKind::ListenerOpened if !loopback(&e.subject) => Some(detected(
                format!("server:new_listening_port:{}:{}", e.subject, at.0),
                DetectionKind::NewListeningPort,
                *at,
                match e.to.as_deref().filter(|p| !p.is_empty()) {
                    Some(process) => format!("{process} listens on {}", e.subject),
                    None => format!("a new port listens on {}", e.subject),
                },
            )),
            _ => None,
        })
        .collect()
}

/// Protection turned off: a firewall or anti-malware check that passed and now fails.
pub fn protection_off(
    check: &str,
    from: Option<&str>,
    to: &str,
    at: Timestamp,
) -> Option<Detected> {
    let (_, what) = PROTECTION_CHECKS.iter().find(|(id, _)| *id == check)?;
    (from == Some("pass") && to == "fail").then(|| {
        detected(
            format!("server:protection_off:{check}:{}", at.0),
            DetectionKind::ProtectionOff,
            at,
            format!("{what} was turned off (posture check {check} passed, now fails)"),
        )
    })
}

/// The agent stopped on purpose: its last report said it was stopping and it has been silent
/// since `last_seen` for longer than `window_ms`. One detection per silence.
pub fn agent_stopped(last_seen: Timestamp, window_ms: i64, now: Timestamp) -> Option<Detected> {
    (now.since(last_seen) > window_ms).then(|| {
        detected(
            format!("server:agent_stopped:{}", last_seen.0),
            DetectionKind::AgentStopped,
            now,
            format!(
                "the agent was stopped: its last report said it was stopping, and it has been silent for {}",
                crate::time::human_duration_ms(now.since(last_seen))
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: ChangeKind, subject: &str) -> ChangeEvent {
        ChangeEvent {
            kind,
            subject: subject.into(),
            from: None,
            to: None,
        }
    }

    #[test]
    fn a_new_admin_and_a_public_listener_are_detected_loopback_is_not() {
        let at = Timestamp(5);
        let mut public = ev(ChangeKind::ListenerOpened, "tcp/0.0.0.0:4444");
        public.to = Some("nc".into());
        let changes = vec![
            (at, ev(ChangeKind::AdminAdded, "mallory")),
            (at, public),
            (at, ev(ChangeKind::ListenerOpened, "tcp/127.0.0.1:5432")),
            (at, ev(ChangeKind::ListenerOpened, "tcp/[::1]:631")),
            (at, ev(ChangeKind::AccountAdded, "bob")),
        ];
        let found = from_changes(&changes);
        let kinds: Vec<DetectionKind> = found.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                DetectionKind::NewAdministrator,
                DetectionKind::NewListeningPort
            ]
        );
        assert_eq!(found[1].summary, "nc listens on tcp/0.0.0.0:4444");
        // The same facts give the same ids: recorded once.
        assert_eq!(from_changes(&changes)[0].local_id, found[0].local_id);
    }

    #[test]
    fn protection_off_is_a_pass_turning_to_fail_of_a_protection_check() {
        let at = Timestamp(9);
        let off = protection_off("firewall-default-deny-inbound", Some("pass"), "fail", at);
        assert!(off.is_some_and(|d| d.summary.starts_with("the firewall was turned off")));
        assert!(protection_off("firewall-default-deny-inbound", None, "fail", at).is_none());
        assert!(protection_off("ssh-root-login-off", Some("pass"), "fail", at).is_none());
        // A scanner whose service was stopped.
        let stopped = protection_off("anti-malware-running", Some("pass"), "fail", at);
        assert!(stopped.is_some_and(|d| {
            d.summary
                .starts_with("anti-malware protection was turned off")
        }));
    }

    #[test]
    fn the_agent_stopped_only_past_its_window() {
        let seen = Timestamp(1_000);
        assert!(agent_stopped(seen, 600_000, Timestamp(500_000)).is_none());
        let stopped = agent_stopped(seen, 600_000, Timestamp(700_000)).unwrap();
        assert_eq!(stopped.kind, DetectionKind::AgentStopped);
        assert!(stopped.summary.starts_with("the agent was stopped"));
    }
}
