//! Building the posture report from what the server holds: each device's results, the
//! manual answers and the exceptions, laid over the catalogue (the checks' metadata, the
//! frameworks). Pure: the service reads the store, this decides what the report says.
//!
//! The rules, in one place:
//! - a device's failing result under an active exception is *excepted*: shown, counted
//!   apart, never a pass;
//! - a check's item fails when it fails on any device; its coverage is the devices it
//!   passes on over the devices it was judged on;
//! - a Safeguard or requirement fails when any check or manual item evidencing it fails;
//!   its coverage counts a device as covered when every check evidencing it that was judged
//!   there passes;
//! - a framework's standing counts its items (Safeguards, requirements; checks and manual
//!   items for the checklist) by status; an auto-fail requirement that fails is a blocker.

use std::collections::HashMap;

use steward_core::Timestamp;
use steward_core::checks::{Membership, Target};
use steward_core::posture::PostureState;
use steward_core::posture::exception::Exception;
use steward_core::posture::manual::{Answer, standing};
use steward_posture::score::{Tally, Verdict};
use steward_posture::{ManualItem, Section, Severity, remediation_rank};
use steward_proto::posture as wire;

use super::frameworks::{ce_sections, cis_sections};

/// A check as the report knows it: from the agents' pack or the server's own.
#[derive(Debug, Clone)]
pub struct CheckMeta {
    pub id: String,
    pub title: String,
    pub section: Section,
    pub severity: Severity,
    pub remediation: String,
    pub cis: Vec<String>,
    pub cyber_essentials: Option<String>,
    /// `check` (read by the agent) or `server`.
    pub kind: &'static str,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
    pub tags: Vec<String>,
}

/// A device's current result for a check.
#[derive(Debug, Clone)]
pub struct Stored {
    pub device_id: String,
    pub check_id: String,
    pub state: PostureState,
    pub evidence: String,
    pub reason: String,
    pub since: Timestamp,
    pub evaluated_at: Timestamp,
}

/// A manual item's answer.
#[derive(Debug, Clone)]
pub struct Answered {
    pub item_id: String,
    pub owner: String,
    pub answer: Answer,
    pub note: String,
    pub review_by: Timestamp,
    pub answered_at: Timestamp,
    /// The attached evidence file's name.
    pub attachment: Option<String>,
}

/// An exception with its parsed target.
#[derive(Debug, Clone)]
pub struct ExceptionRow {
    pub wire: wire::Exception,
    pub rule: Exception,
}

pub struct Inputs<'a> {
    pub checks: &'a [CheckMeta],
    pub manual: &'a [ManualItem],
    pub devices: &'a [Device],
    pub results: &'a [Stored],
    pub answers: &'a [Answered],
    pub exceptions: &'a [ExceptionRow],
    pub now: Timestamp,
}

/// Which framework the sections follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framework {
    #[default]
    Checklist,
    CisIg1,
    CyberEssentials,
}

impl Framework {
    pub const ALL: [Framework; 3] = [
        Framework::Checklist,
        Framework::CisIg1,
        Framework::CyberEssentials,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Framework::Checklist => "checklist",
            Framework::CisIg1 => "cis-ig1",
            Framework::CyberEssentials => "cyber-essentials",
        }
    }

    pub fn parse(s: &str) -> Option<Framework> {
        Framework::ALL.into_iter().find(|f| f.id() == s)
    }

    pub fn title(self) -> String {
        match self {
            Framework::Checklist => "Small-business IT checklist".into(),
            Framework::CisIg1 => {
                format!("{}, Implementation Group 1", steward_posture::CIS_VERSION)
            }
            Framework::CyberEssentials => format!(
                "{} ({} question set)",
                steward_posture::CYBER_ESSENTIALS_VERSION,
                steward_posture::CYBER_ESSENTIALS_QUESTION_SET
            ),
        }
    }
}

/// Remediations listed.
const TOP_REMEDIATIONS: usize = 10;

/// A check's item with the per-device verdicts behind it.
pub(super) struct CheckView<'a> {
    pub(super) meta: &'a CheckMeta,
    pub(super) item: wire::Item,
    /// Per device id: its verdict.
    pub(super) verdicts: HashMap<&'a str, Verdict>,
    pub(super) tally: Tally,
}

/// A manual item's line and verdict.
pub(super) struct ManualView<'a> {
    pub(super) def: &'a ManualItem,
    pub(super) item: wire::Item,
    pub(super) verdict: Verdict,
}

pub fn build(inputs: &Inputs<'_>, framework: Framework) -> wire::Report {
    let names: HashMap<&str, &Device> = inputs.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut by_check: HashMap<&str, Vec<&Stored>> = HashMap::new();
    for r in inputs.results {
        if names.contains_key(r.device_id.as_str()) {
            by_check.entry(r.check_id.as_str()).or_default().push(r);
        }
    }
    let checks: Vec<CheckView<'_>> = inputs
        .checks
        .iter()
        .map(|meta| {
            let results = by_check
                .get(meta.id.as_str())
                .map_or(&[][..], Vec::as_slice);
            check_view(meta, results, &names, inputs.exceptions, inputs.now)
        })
        .collect();
    let answers: HashMap<&str, &Answered> = inputs
        .answers
        .iter()
        .map(|a| (a.item_id.as_str(), a))
        .collect();
    let manual: Vec<ManualView<'_>> = inputs
        .manual
        .iter()
        .map(|def| manual_view(def, answers.get(def.id).copied(), inputs.now))
        .collect();

    let mut organisation = Tally::default();
    for c in &checks {
        organisation.merge(&c.tally);
    }
    for m in &manual {
        organisation.add(m.verdict);
    }
    let checklist = checklist_sections(&checks, &manual);
    let cis = cis_sections(&checks, &manual, inputs);
    let ce = ce_sections(&checks, &manual, inputs);
    let standings = vec![
        standing_of(Framework::Checklist, &checklist),
        standing_of(Framework::CisIg1, &cis),
        standing_of(Framework::CyberEssentials, &ce),
    ];
    let sections = match framework {
        Framework::Checklist => checklist,
        Framework::CisIg1 => cis,
        Framework::CyberEssentials => ce,
    };
    wire::Report {
        generated_at: inputs.now,
        framework: framework.id().into(),
        devices: count(inputs.devices.len()),
        devices_evaluated: count(evaluated_devices(inputs)),
        organisation: score(&organisation),
        standings,
        sections,
        device_scores: device_scores(&checks, inputs),
        exceptions: inputs.exceptions.iter().map(|e| e.wire.clone()).collect(),
        remediations: remediations(&checks, &manual),
    }
}

/// Devices whose agent has reported its checks (the server's own checks judge every
/// device, evaluated or not).
fn evaluated_devices(inputs: &Inputs<'_>) -> usize {
    let by_agent: std::collections::HashSet<&str> = inputs
        .checks
        .iter()
        .filter(|c| c.kind != "server")
        .map(|c| c.id.as_str())
        .collect();
    let evaluated: std::collections::HashSet<&str> = inputs
        .results
        .iter()
        .filter(|r| by_agent.contains(r.check_id.as_str()))
        .map(|r| r.device_id.as_str())
        .collect();
    inputs
        .devices
        .iter()
        .filter(|d| evaluated.contains(d.id.as_str()))
        .count()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub fn score(t: &Tally) -> wire::Score {
    wire::Score {
        pass: t.pass,
        fail: t.fail,
        excepted: t.excepted,
        unknown: t.unknown,
        not_applicable: t.not_applicable,
        ratio: t.ratio(),
    }
}

pub(super) fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Excepted => "excepted",
        Verdict::NotApplicable => "not_applicable",
        Verdict::Unknown => "unknown",
    }
}

fn verdict_of(state: PostureState, excepted: bool) -> Verdict {
    match state {
        PostureState::Pass => Verdict::Pass,
        PostureState::Fail if excepted => Verdict::Excepted,
        PostureState::Fail => Verdict::Fail,
        PostureState::NotApplicable => Verdict::NotApplicable,
        PostureState::Unknown => Verdict::Unknown,
    }
}

/// An item's status from its parts: any failure fails it; then an excepted failure; then a
/// pass; then unknown; not applicable only when nothing else was seen.
pub(super) fn overall(t: &Tally) -> Verdict {
    if t.fail > 0 {
        Verdict::Fail
    } else if t.excepted > 0 {
        Verdict::Excepted
    } else if t.pass > 0 {
        Verdict::Pass
    } else if t.not_applicable > 0 && t.unknown == 0 {
        Verdict::NotApplicable
    } else {
        Verdict::Unknown
    }
}

pub(super) fn coverage(covered: u32, judged: u32) -> wire::Coverage {
    wire::Coverage {
        covered,
        judged,
        ratio: steward_posture::score::coverage(covered, judged),
    }
}

fn references(cis: &[String], ce: Option<&str>) -> Vec<String> {
    cis.iter()
        .map(|id| format!("CIS {id}"))
        .chain(ce.map(|id| format!("CE {id}")))
        .collect()
}

fn check_view<'a>(
    meta: &'a CheckMeta,
    results: &[&'a Stored],
    names: &HashMap<&str, &'a Device>,
    exceptions: &[ExceptionRow],
    now: Timestamp,
) -> CheckView<'a> {
    let mut tally = Tally::default();
    let mut verdicts = HashMap::new();
    let mut devices = Vec::with_capacity(results.len());
    for r in results {
        let Some(device) = names.get(r.device_id.as_str()) else {
            continue;
        };
        let membership = Membership {
            device_id: &device.id,
            groups: &device.groups,
            tags: &device.tags,
        };
        let excepted = r.state == PostureState::Fail
            && exceptions
                .iter()
                .any(|e| e.rule.applies(&meta.id, &membership, now));
        let verdict = verdict_of(r.state, excepted);
        tally.add(verdict);
        verdicts.insert(device.id.as_str(), verdict);
        devices.push(wire::DeviceResult {
            device_id: device.id.clone(),
            device_name: device.name.clone(),
            status: verdict_name(verdict).into(),
            evidence: r.evidence.clone(),
            reason: r.reason.clone(),
            since: r.since,
            evaluated_at: r.evaluated_at,
        });
    }
    // Failures first, so the line that explains the item is on top.
    devices.sort_by_key(|d| (rank_of_status(&d.status), d.device_name.clone()));
    let status = overall(&tally);
    let judged = tally.pass + tally.fail + tally.excepted;
    let (evidence, reason) = match devices.first() {
        None => (
            String::new(),
            "no device has reported this check yet".to_owned(),
        ),
        Some(first) if status == Verdict::Fail => (
            format!("{}: {}", first.device_name, first.evidence),
            format!(
                "fails on {} of {} devices judged; {}",
                tally.fail, judged, first.reason
            ),
        ),
        Some(first) => (
            format!("{}: {}", first.device_name, first.evidence),
            match status {
                Verdict::Pass => format!("passes on {} of {} devices judged", tally.pass, judged),
                Verdict::Excepted => {
                    format!("{} failing devices are accepted risks", tally.excepted)
                }
                _ => first.reason.clone(),
            },
        ),
    };
    let item = wire::Item {
        id: meta.id.clone(),
        title: meta.title.clone(),
        kind: meta.kind.into(),
        status: verdict_name(status).into(),
        severity: Some(meta.severity.as_str().into()),
        evidenced: None,
        blocker: status == Verdict::Fail && auto_fail(meta.cyber_essentials.as_deref()),
        coverage: Some(coverage(tally.pass, judged)),
        evidence,
        reason,
        date: results.iter().map(|r| r.evaluated_at).max(),
        remediation: meta.remediation.clone(),
        references: references(&meta.cis, meta.cyber_essentials.as_deref()),
        devices,
        owner: None,
        attachment: None,
    };
    CheckView {
        meta,
        item,
        verdicts,
        tally,
    }
}

fn rank_of_status(status: &str) -> u8 {
    match status {
        "fail" => 0,
        "excepted" => 1,
        "unknown" => 2,
        "pass" => 3,
        _ => 4,
    }
}

fn auto_fail(requirement: Option<&str>) -> bool {
    requirement
        .and_then(steward_posture::frameworks::requirement)
        .is_some_and(|r| r.auto_fail)
}

fn manual_view<'a>(
    def: &'a ManualItem,
    answer: Option<&Answered>,
    now: Timestamp,
) -> ManualView<'a> {
    let (state, reason) = standing(answer.map(|a| (a.answer, a.review_by)), now);
    let verdict = verdict_of(state, false);
    let cis: Vec<String> = def.cis.iter().map(|s| (*s).to_owned()).collect();
    let item = wire::Item {
        id: def.id.into(),
        title: def.title.into(),
        kind: "manual".into(),
        status: verdict_name(verdict).into(),
        severity: None,
        evidenced: None,
        blocker: verdict == Verdict::Fail && auto_fail(def.cyber_essentials),
        coverage: None,
        evidence: answer.map_or_else(String::new, |a| {
            let said = format!("answered {}", a.answer.as_str().replace('_', " "));
            if a.note.is_empty() {
                said
            } else {
                format!("{said}: {}", a.note)
            }
        }),
        reason,
        date: answer.map(|a| a.answered_at),
        remediation: def.guidance.into(),
        references: references(&cis, def.cyber_essentials),
        devices: Vec::new(),
        owner: answer.map(|a| a.owner.clone()),
        attachment: answer.and_then(|a| a.attachment.clone()),
    };
    ManualView { def, item, verdict }
}

fn checklist_sections(checks: &[CheckView<'_>], manual: &[ManualView<'_>]) -> Vec<wire::Section> {
    Section::ALL
        .into_iter()
        .map(|section| {
            let mut tally = Tally::default();
            let mut items = Vec::new();
            for c in checks.iter().filter(|c| c.meta.section == section) {
                tally.merge(&c.tally);
                items.push(c.item.clone());
            }
            for m in manual.iter().filter(|m| m.def.section == section) {
                tally.add(m.verdict);
                items.push(m.item.clone());
            }
            wire::Section {
                id: section.id().into(),
                title: section.title().into(),
                score: score(&tally),
                items,
            }
        })
        .collect()
}

/// A framework's standing: its items by status, and its blockers.
fn standing_of(framework: Framework, sections: &[wire::Section]) -> wire::Standing {
    let mut tally = Tally::default();
    let mut blockers = Vec::new();
    for item in sections.iter().flat_map(|s| &s.items) {
        tally.add(match item.status.as_str() {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            "excepted" => Verdict::Excepted,
            "not_applicable" => Verdict::NotApplicable,
            _ => Verdict::Unknown,
        });
        if item.blocker {
            blockers.push(format!("{} ({})", item.title, item.id));
        }
    }
    wire::Standing {
        framework: framework.id().into(),
        title: framework.title(),
        score: score(&tally),
        blockers,
    }
}

fn device_scores(checks: &[CheckView<'_>], inputs: &Inputs<'_>) -> Vec<wire::DeviceScore> {
    // One pass over the results, not one per device: a thousand devices have sixty
    // thousand of them.
    let mut evaluated: HashMap<&str, Timestamp> = HashMap::new();
    for r in inputs.results {
        let at = evaluated
            .entry(r.device_id.as_str())
            .or_insert(r.evaluated_at);
        *at = (*at).max(r.evaluated_at);
    }
    let mut scores: Vec<wire::DeviceScore> = inputs
        .devices
        .iter()
        .map(|d| {
            let mut tally = Tally::default();
            for c in checks {
                if let Some(v) = c.verdicts.get(d.id.as_str()) {
                    tally.add(*v);
                }
            }
            wire::DeviceScore {
                device_id: d.id.clone(),
                device_name: d.name.clone(),
                score: score(&tally),
                evaluated_at: evaluated.get(d.id.as_str()).copied(),
            }
        })
        .collect();
    scores.sort_by(|a, b| a.device_name.cmp(&b.device_name));
    scores
}

fn remediations(checks: &[CheckView<'_>], manual: &[ManualView<'_>]) -> Vec<wire::Remediation> {
    let mut ranked: Vec<wire::Remediation> = checks
        .iter()
        .filter(|c| c.tally.fail > 0)
        .map(|c| wire::Remediation {
            item_id: c.meta.id.clone(),
            title: c.meta.title.clone(),
            rank: remediation_rank(
                c.meta.severity,
                c.tally.fail,
                auto_fail(c.meta.cyber_essentials.as_deref()),
            ),
            devices_failing: c.tally.fail,
            remediation: c.meta.remediation.clone(),
        })
        .chain(
            manual
                .iter()
                .filter(|m| m.verdict == Verdict::Fail)
                .map(|m| wire::Remediation {
                    item_id: m.def.id.into(),
                    title: m.def.title.into(),
                    // An organisation-wide practice weighs as a medium check on one device,
                    // more when it fails a framework on its own.
                    rank: remediation_rank(Severity::Medium, 1, auto_fail(m.def.cyber_essentials)),
                    devices_failing: 0,
                    remediation: m.def.guidance.into(),
                }),
        )
        .collect();
    ranked.sort_by(|a, b| b.rank.cmp(&a.rank).then_with(|| a.item_id.cmp(&b.item_id)));
    ranked.truncate(TOP_REMEDIATIONS);
    ranked
}

/// Parses a stored exception's target; one that no longer parses covers nothing.
pub fn exception_rule(
    check_id: &str,
    target: &str,
    expires_at: Timestamp,
    revoked: bool,
) -> Exception {
    Exception {
        check_id: check_id.to_owned(),
        target: Target::parse(target).unwrap_or(Target::Device(String::new())),
        expires_at,
        revoked,
    }
}
