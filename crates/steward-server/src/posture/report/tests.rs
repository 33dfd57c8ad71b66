//! The report's rules on a small fleet, without a server.

use steward_core::Timestamp;
use steward_core::checks::Target;
use steward_core::posture::PostureState;
use steward_core::posture::exception::Exception;
use steward_core::posture::manual::Answer;
use steward_posture::{Section, Severity};
use steward_proto::posture as wire;

use super::*;

const DAY: i64 = 86_400_000;

fn check(
    id: &str,
    section: Section,
    severity: Severity,
    cis: &[&str],
    ce: Option<&str>,
) -> CheckMeta {
    CheckMeta {
        id: id.into(),
        title: format!("title of {id}"),
        section,
        severity,
        remediation: format!("fix {id}"),
        cis: cis.iter().map(|s| (*s).to_owned()).collect(),
        cyber_essentials: ce.map(Into::into),
        kind: "check",
    }
}

fn device(id: &str, group: Option<&str>) -> Device {
    Device {
        id: id.into(),
        name: format!("{id}-name"),
        groups: group.into_iter().map(Into::into).collect(),
        tags: Vec::new(),
    }
}

fn result(device: &str, check: &str, state: PostureState) -> Stored {
    Stored {
        device_id: device.into(),
        check_id: check.into(),
        state,
        evidence: format!("{check} on {device}"),
        reason: "seen".into(),
        since: Timestamp(DAY),
        evaluated_at: Timestamp(2 * DAY),
    }
}

fn item<'a>(report: &'a wire::Report, id: &str) -> &'a wire::Item {
    report
        .sections
        .iter()
        .flat_map(|s| &s.items)
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

struct Fleet {
    checks: Vec<CheckMeta>,
    devices: Vec<Device>,
    results: Vec<Stored>,
    answers: Vec<Answered>,
    exceptions: Vec<ExceptionRow>,
}

fn fleet() -> Fleet {
    use PostureState::*;
    Fleet {
        checks: vec![
            check(
                "firewall-on",
                Section::Network,
                Severity::High,
                &["4.4", "4.5"],
                Some("firewalls"),
            ),
            check(
                "updates-fresh",
                Section::Software,
                Severity::Critical,
                &["7.3"],
                Some("updates-within-14-days"),
            ),
            check(
                "ssh-keys",
                Section::UserAccess,
                Severity::Medium,
                &["4.1"],
                None,
            ),
        ],
        devices: vec![
            device("a", Some("office")),
            device("b", None),
            device("c", None),
        ],
        results: vec![
            result("a", "firewall-on", Fail),
            result("b", "firewall-on", Pass),
            result("c", "firewall-on", Unknown),
            result("a", "updates-fresh", Pass),
            result("b", "updates-fresh", Fail),
            result("c", "updates-fresh", Fail),
            result("a", "ssh-keys", NotApplicable),
            result("b", "ssh-keys", NotApplicable),
            // A device outside the caller's list is ignored.
            result("elsewhere", "ssh-keys", Fail),
        ],
        answers: vec![Answered {
            item_id: "router-firmware".into(),
            owner: "Sam".into(),
            answer: Answer::Yes,
            note: "checked".into(),
            review_by: Timestamp(100 * DAY),
            answered_at: Timestamp(DAY),
            attachment: Some("router.pdf".into()),
        }],
        exceptions: vec![ExceptionRow {
            wire: wire::Exception {
                id: "x1".into(),
                check_id: "firewall-on".into(),
                target: "group:office".into(),
                reason: "the office router filters".into(),
                owner: "Sam".into(),
                expires_at: Timestamp(10 * DAY),
                created_at: Timestamp(DAY),
                created_by: "admin".into(),
                status: "active".into(),
            },
            rule: Exception {
                check_id: "firewall-on".into(),
                target: Target::Group("office".into()),
                expires_at: Timestamp(10 * DAY),
                revoked: false,
            },
        }],
    }
}

fn build_at(f: &Fleet, now: i64, framework: Framework) -> wire::Report {
    build(
        &Inputs {
            checks: &f.checks,
            manual: steward_posture::manual::items(),
            devices: &f.devices,
            results: &f.results,
            answers: &f.answers,
            exceptions: &f.exceptions,
            now: Timestamp(now),
        },
        framework,
    )
}

#[test]
fn a_check_fails_on_any_failing_device_and_an_exception_shows_as_excepted() {
    let f = fleet();
    let report = build_at(&f, 3 * DAY, Framework::Checklist);
    assert_eq!(report.sections.len(), 8);
    assert_eq!(report.devices, 3);
    assert_eq!(report.devices_evaluated, 3);
    let firewall = item(&report, "firewall-on");
    // a's failure is excused by the office group's exception; c is unknown: not a failure.
    assert_eq!(firewall.status, "excepted");
    let a = firewall
        .devices
        .iter()
        .find(|d| d.device_id == "a")
        .unwrap();
    assert_eq!(a.status, "excepted");
    let cov = firewall.coverage.unwrap();
    assert_eq!((cov.covered, cov.judged), (1, 2));
    // After the exception expires, the failure counts again.
    let later = build_at(&f, 11 * DAY, Framework::Checklist);
    assert_eq!(item(&later, "firewall-on").status, "fail");

    let updates = item(&report, "updates-fresh");
    assert_eq!(updates.status, "fail");
    assert!(
        updates.blocker,
        "a Cyber Essentials auto-fail that fails is a blocker"
    );
    assert!(
        updates.reason.starts_with("fails on 2 of 3 devices judged"),
        "{}",
        updates.reason
    );
    assert_eq!(
        updates.devices[0].status, "fail",
        "failures are listed first"
    );
    assert_eq!(item(&report, "ssh-keys").status, "not_applicable");

    // The organisation: every device result and every manual item; unknown and not
    // applicable are not scored.
    let org = report.organisation;
    assert_eq!(org.excepted, 1);
    assert_eq!(org.unknown, 1);
    assert!(org.ratio.unwrap() < 0.5);
}

#[test]
fn manual_items_fail_unanswered_or_overdue() {
    let f = fleet();
    let report = build_at(&f, 3 * DAY, Framework::Checklist);
    let router = item(&report, "router-firmware");
    assert_eq!(router.status, "pass");
    assert_eq!(router.owner.as_deref(), Some("Sam"));
    assert_eq!(router.attachment.as_deref(), Some("router.pdf"));
    assert_eq!(item(&report, "wifi-encryption").status, "fail");
    let overdue = build_at(&f, 101 * DAY, Framework::Checklist);
    assert_eq!(item(&overdue, "router-firmware").status, "fail");
}

#[test]
fn frameworks_account_for_every_item_and_name_their_blockers() {
    let f = fleet();
    let cis = build_at(&f, 3 * DAY, Framework::CisIg1);
    assert_eq!(cis.framework, "cis-ig1");
    assert_eq!(cis.sections.len(), 15);
    let safeguards: Vec<&wire::Item> = cis.sections.iter().flat_map(|s| &s.items).collect();
    assert_eq!(safeguards.len(), 56);
    let s73 = item(&cis, "7.3");
    assert_eq!(s73.status, "fail");
    assert_eq!(s73.coverage.unwrap().covered, 1);
    assert!(s73.references.contains(&"updates-fresh".to_owned()));
    // 4.4 is evidenced by the firewall check only here (and any manual item citing it).
    assert!(item(&cis, "4.4").evidenced.is_some());

    let ce = build_at(&f, 3 * DAY, Framework::CyberEssentials);
    assert_eq!(ce.sections.len(), 5);
    let standing = ce
        .standings
        .iter()
        .find(|s| s.framework == "cyber-essentials")
        .unwrap();
    assert!(
        standing
            .blockers
            .iter()
            .any(|b| b.contains("updates-within-14-days")),
        "{:?}",
        standing.blockers
    );
}

#[test]
fn remediations_rank_severity_by_the_devices_failing() {
    let f = fleet();
    let report = build_at(&f, 11 * DAY, Framework::Checklist);
    assert!(report.remediations.len() <= 10);
    // A critical auto-fail on two devices outranks a high one on one device.
    assert_eq!(report.remediations[0].item_id, "updates-fresh");
    assert_eq!(report.remediations[0].devices_failing, 2);
    let ranks: Vec<u32> = report.remediations.iter().map(|r| r.rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
}
