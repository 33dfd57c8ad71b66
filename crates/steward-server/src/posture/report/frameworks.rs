//! The framework views of the report: each CIS IG1 Safeguard and each Cyber Essentials
//! requirement as an item, standing on the checks and manual items that cite it.

use steward_posture::score::{Tally, Verdict};
use steward_proto::posture as wire;

use super::build::{CheckView, Device, Inputs, ManualView, coverage, overall, score, verdict_name};

/// What a framework's item is: a Safeguard or a requirement.
struct Entry<'a> {
    id: &'a str,
    title: &'a str,
    kind: &'a str,
    guidance: &'a str,
    /// Fails the framework on its own when it fails (a Cyber Essentials auto-fail).
    blocker_if_failing: bool,
}

/// An item standing for a Safeguard or requirement evidenced by `citing` checks and
/// `attesting` manual items.
fn framework_item(
    entry: &Entry<'_>,
    citing: &[&CheckView<'_>],
    attesting: &[&ManualView<'_>],
    devices: &[Device],
) -> (wire::Item, Verdict) {
    let mut parts = Tally::default();
    for c in citing {
        parts.add(overall(&c.tally));
    }
    for m in attesting {
        parts.add(m.verdict);
    }
    let status = if citing.is_empty() && attesting.is_empty() {
        Verdict::Unknown
    } else {
        overall(&parts)
    };
    let mut covered = 0;
    let mut judged = 0;
    for d in devices {
        let seen: Vec<Verdict> = citing
            .iter()
            .filter_map(|c| c.verdicts.get(d.id.as_str()).copied())
            .filter(|v| matches!(v, Verdict::Pass | Verdict::Fail | Verdict::Excepted))
            .collect();
        if !seen.is_empty() {
            judged += 1;
            if seen.iter().all(|v| *v == Verdict::Pass) {
                covered += 1;
            }
        }
    }
    let evidenced = match (citing.is_empty(), attesting.is_empty()) {
        (false, true) => Some("automatic"),
        (false, false) => Some("partial"),
        (true, false) => Some("attested"),
        (true, true) => None,
    };
    let failing: Vec<&str> = citing
        .iter()
        .filter(|c| overall(&c.tally) == Verdict::Fail)
        .map(|c| c.meta.title.as_str())
        .chain(
            attesting
                .iter()
                .filter(|m| m.verdict == Verdict::Fail)
                .map(|m| m.def.title),
        )
        .collect();
    let reason = if citing.is_empty() && attesting.is_empty() {
        "nothing evidences it yet".to_owned()
    } else if failing.is_empty() {
        format!(
            "{} of {} pieces of evidence pass",
            parts.pass,
            citing.len() + attesting.len()
        )
    } else {
        format!("failing: {}", failing.join("; "))
    };
    let item = wire::Item {
        id: entry.id.into(),
        title: entry.title.into(),
        kind: entry.kind.into(),
        status: verdict_name(status).into(),
        severity: None,
        evidenced: evidenced.map(Into::into),
        blocker: entry.blocker_if_failing && status == Verdict::Fail,
        coverage: (!citing.is_empty()).then(|| coverage(covered, judged)),
        evidence: String::new(),
        reason,
        date: citing
            .iter()
            .filter_map(|c| c.item.date)
            .chain(attesting.iter().filter_map(|m| m.item.date))
            .max(),
        remediation: entry.guidance.into(),
        references: citing
            .iter()
            .map(|c| c.meta.id.clone())
            .chain(attesting.iter().map(|m| m.def.id.to_owned()))
            .collect(),
        devices: Vec::new(),
        owner: None,
        attachment: None,
    };
    (item, status)
}

pub(super) fn cis_sections(
    checks: &[CheckView<'_>],
    manual: &[ManualView<'_>],
    inputs: &Inputs<'_>,
) -> Vec<wire::Section> {
    steward_posture::frameworks::cis_controls()
        .iter()
        .map(|control| {
            let mut tally = Tally::default();
            let items = steward_posture::frameworks::cis_ig1()
                .iter()
                .filter(|s| s.control == control.number)
                .map(|s| {
                    let citing: Vec<&CheckView<'_>> = checks
                        .iter()
                        .filter(|c| c.meta.cis.iter().any(|id| id == s.id))
                        .collect();
                    let attesting: Vec<&ManualView<'_>> = manual
                        .iter()
                        .filter(|m| m.def.cis.contains(&s.id))
                        .collect();
                    let entry = Entry {
                        id: s.id,
                        title: s.title,
                        kind: "safeguard",
                        guidance: s.guidance,
                        blocker_if_failing: false,
                    };
                    let (item, verdict) =
                        framework_item(&entry, &citing, &attesting, inputs.devices);
                    tally.add(verdict);
                    item
                })
                .collect();
            wire::Section {
                id: format!("control-{}", control.number),
                title: format!("{}. {}", control.number, control.title),
                score: score(&tally),
                items,
            }
        })
        .collect()
}

pub(super) fn ce_sections(
    checks: &[CheckView<'_>],
    manual: &[ManualView<'_>],
    inputs: &Inputs<'_>,
) -> Vec<wire::Section> {
    steward_posture::Theme::ALL
        .into_iter()
        .map(|theme| {
            let mut tally = Tally::default();
            let items = steward_posture::frameworks::cyber_essentials()
                .iter()
                .filter(|r| r.theme == theme)
                .map(|r| {
                    let citing: Vec<&CheckView<'_>> = checks
                        .iter()
                        .filter(|c| c.meta.cyber_essentials.as_deref() == Some(r.id))
                        .collect();
                    let attesting: Vec<&ManualView<'_>> = manual
                        .iter()
                        .filter(|m| m.def.cyber_essentials == Some(r.id))
                        .collect();
                    let entry = Entry {
                        id: r.id,
                        title: r.title,
                        kind: "requirement",
                        guidance: r.guidance,
                        blocker_if_failing: r.auto_fail,
                    };
                    let (item, verdict) =
                        framework_item(&entry, &citing, &attesting, inputs.devices);
                    tally.add(verdict);
                    item
                })
                .collect();
            wire::Section {
                id: theme.id().into(),
                title: theme.title().into(),
                score: score(&tally),
                items,
            }
        })
        .collect()
}
