//! The catalogue holds together: the 56 IG1 Safeguards and nothing else, every one of
//! them evidenced by a manual item or by automatic evidence the project guarantees, every
//! id a check or a manual item cites real, and the Cyber Essentials requirements exactly
//! the ten others rely on, with the auto-fail ones marked.

use std::collections::HashSet;

use steward_posture::frameworks::{
    self, Coverage, ServerCheck, check_citations, cis_controls, cis_ig1, cyber_essentials,
    is_cis_safeguard, requirement, safeguard,
};
use steward_posture::{Pack, Theme, builtin, manual};

/// IG1 of v8.1, as CIS lists it.
const IG1_IDS: [&str; 56] = [
    "1.1", "1.2", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "4.1", "4.2",
    "4.3", "4.4", "4.5", "4.6", "4.7", "5.1", "5.2", "5.3", "5.4", "6.1", "6.2", "6.3", "6.4",
    "6.5", "7.1", "7.2", "7.3", "7.4", "8.1", "8.2", "8.3", "9.1", "9.2", "10.1", "10.2", "10.3",
    "11.1", "11.2", "11.3", "11.4", "12.1", "14.1", "14.2", "14.3", "14.4", "14.5", "14.6", "14.7",
    "14.8", "15.1", "17.1", "17.2", "17.3",
];

/// The Safeguards the project guarantees automatic evidence for (the built-in pack, the
/// server's backup checks and Steward's inventory), so no manual item has to.
const AUTOMATIC: [&str; 18] = [
    "1.1", "2.1", "2.2", "3.6", "4.3", "4.4", "4.5", "5.1", "5.2", "5.3", "5.4", "7.3", "8.2",
    "10.1", "10.2", "10.3", "11.2", "11.3",
];

/// The Cyber Essentials ids packs and manual items may cite, and those that fail a whole
/// assessment.
const CE_IDS: [&str; 10] = [
    "firewalls",
    "secure-configuration",
    "security-update-management",
    "user-access-control",
    "malware-protection",
    "updates-within-14-days",
    "supported-software",
    "cloud-mfa",
    "default-passwords",
    "administrator-accounts",
];
const AUTO_FAIL: [&str; 3] = ["updates-within-14-days", "supported-software", "cloud-mfa"];

fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[test]
fn ig1_is_exactly_its_56_safeguards_in_order() {
    let ids: Vec<&str> = cis_ig1().iter().map(|s| s.id).collect();
    assert_eq!(ids, IG1_IDS);
    let controls: HashSet<u8> = cis_controls().iter().map(|c| c.number).collect();
    assert_eq!(cis_controls().len(), 15);
    assert_eq!(controls.len(), 15, "control numbers are unique");
    for s in cis_ig1() {
        assert!(is_cis_safeguard(s.id), "{} is a v8.1 id", s.id);
        let (control, _) = s.id.split_once('.').unwrap();
        assert_eq!(control, s.control.to_string(), "{}: its control", s.id);
        assert!(controls.contains(&s.control), "{}: control listed", s.id);
        assert!(!s.title.is_empty() && s.title.len() <= 110, "{}", s.id);
        assert!(
            s.guidance.ends_with('.') && s.guidance.contains("Steward"),
            "{}: guidance is sentences that say what Steward does",
            s.id
        );
        assert_eq!(safeguard(s.id), Some(s));
    }
    // Every control listed has a Safeguard in IG1.
    for c in cis_controls() {
        assert!(cis_ig1().iter().any(|s| s.control == c.number), "{c:?}");
    }
    assert_eq!(safeguard("4.8"), None, "IG2, not in the catalogue");
    assert!(
        frameworks::CIS_VERSION.contains("v8.1"),
        "{}",
        frameworks::CIS_VERSION
    );
}

#[test]
fn safeguard_ids_are_checked_against_all_of_v8_1() {
    for real in ["1.5", "4.8", "13.11", "16.14", "18.5", "3.14"] {
        assert!(is_cis_safeguard(real), "{real}");
    }
    for not in [
        "", "4", "4.", ".1", "4.13", "0.1", "19.1", "04.1", "4.01", "4.0", "4.1.2", "+4.1", "a.b",
    ] {
        assert!(!is_cis_safeguard(not), "{not:?}");
    }
}

#[test]
fn every_ig1_safeguard_is_evidenced_by_a_manual_item_or_guaranteed_automatic() {
    for id in IG1_IDS {
        let attested = manual::items().iter().any(|m| m.cis.contains(&id));
        assert!(
            attested || AUTOMATIC.contains(&id),
            "{id}: no manual item cites it and it is not guaranteed automatic evidence"
        );
    }
}

#[test]
fn manual_items_are_well_formed_and_cite_what_exists() {
    let items = manual::items();
    assert!(
        (20..=25).contains(&items.len()),
        "{} items: short enough to answer in an afternoon",
        items.len()
    );
    let mut seen = HashSet::new();
    for m in items {
        assert!(is_kebab_case(m.id), "{:?} is kebab-case", m.id);
        assert!(seen.insert(m.id), "{} is defined twice", m.id);
        assert!(!m.title.is_empty(), "{}", m.id);
        assert!(m.question.ends_with('?'), "{}: a question", m.id);
        assert!(m.guidance.ends_with('.'), "{}: guidance", m.id);
        assert!(!m.cis.is_empty(), "{} cites a Safeguard", m.id);
        for id in m.cis {
            assert!(safeguard(id).is_some(), "{} cites {id}, not in IG1", m.id);
        }
        if let Some(ce) = m.cyber_essentials {
            assert!(CE_IDS.contains(&ce), "{} cites {ce}", m.id);
        }
        assert!(
            [90, 180, 365].contains(&m.review_days),
            "{}: review every {} days",
            m.id,
            m.review_days
        );
        assert_eq!(manual::item(m.id), Some(m));
    }
    for needed in [
        "router-firmware",
        "router-admin-password",
        "wifi-encryption",
        "network-segmentation",
        "offsite-backup",
        "recovery-plan",
        "recovery-plan-tested",
        "helpdesk-process",
        "staff-training",
        "service-providers",
        "incident-contacts",
        "cloud-mfa",
    ] {
        assert!(manual::item(needed).is_some(), "{needed} is a manual item");
    }
    assert_eq!(manual::item("no-such-item"), None);
}

#[test]
fn cyber_essentials_is_the_ten_requirements_with_its_auto_fails() {
    let ids: Vec<&str> = cyber_essentials().iter().map(|r| r.id).collect();
    assert_eq!(ids, CE_IDS);
    for r in cyber_essentials() {
        assert_eq!(
            r.auto_fail,
            AUTO_FAIL.contains(&r.id),
            "{}: auto-fail as documented",
            r.id
        );
        assert!(!r.title.is_empty() && r.guidance.ends_with('.'), "{}", r.id);
        assert_eq!(requirement(r.id), Some(r));
    }
    // Each theme's own requirement carries the theme's id.
    for theme in Theme::ALL {
        assert_eq!(requirement(theme.id()).map(|r| r.theme), Some(theme));
    }
    assert_eq!(requirement("A6.4"), None);
    assert_eq!(
        frameworks::CYBER_ESSENTIALS_VERSION,
        "Cyber Essentials v3.3"
    );
}

/// A check cites any real v8.1 Safeguard (an IG2 one such as 4.8 counts outside IG1's
/// report), and names a Cyber Essentials requirement that exists.
#[test]
fn every_builtin_check_cites_real_safeguards_and_requirements() {
    let pack = builtin();
    assert!(!pack.checks.is_empty());
    for check in &pack.checks {
        assert!(!check.cis.is_empty(), "{} cites a Safeguard", check.id);
        check_citations(check).unwrap();
    }
    // And the test refuses what it should.
    let mut bad = pack.checks[0].clone();
    bad.cis = vec!["4.13".into()];
    assert!(check_citations(&bad).is_err());
    bad.cis = vec![];
    assert_eq!(check_citations(&bad), Ok(()), "citing nothing is allowed");
    bad.cis = vec!["4.8".into()];
    assert_eq!(check_citations(&bad), Ok(()), "IG2 Safeguards are real");
    bad.cyber_essentials = Some("patching".into());
    assert!(check_citations(&bad).unwrap_err().contains("patching"));
}

const ONE_CHECK: &str = r#"
[[check]]
id = "a-check"
title = "t"
section = "security"
severity = "low"
rationale = "r"
remediation = "m"
cis = ["4.1"]
cyber_essentials = "secure-configuration"
rule = { file = "/etc/x", allowed = ["1"] }
"#;

#[test]
fn coverage_is_derived_from_who_cites_a_safeguard() {
    let pack = Pack::parse([("one.toml", ONE_CHECK)]).unwrap();
    let server = [ServerCheck {
        id: "backup-recent",
        cis: &["11.2", "11.3"],
    }];
    let items = manual::items();
    let coverage = |id| frameworks::coverage(id, &pack, &server, items);
    // The pack's check and a manual item (secure-configuration-process) both cite 4.1.
    assert_eq!(coverage("4.1"), Some(Coverage::Partial));
    // Only the server's check cites 11.2.
    assert_eq!(coverage("11.2"), Some(Coverage::Automatic));
    // Only a manual item cites 15.1.
    assert_eq!(coverage("15.1"), Some(Coverage::Attested));
    // Nothing cites 10.1 here.
    assert_eq!(coverage("10.1"), None);
    assert_eq!(
        [Coverage::Automatic, Coverage::Partial, Coverage::Attested].map(Coverage::as_str),
        ["automatic", "partial", "attested"]
    );
    assert_eq!(
        frameworks::coverage("4.1", &pack, &[], &[]),
        Some(Coverage::Automatic)
    );

    let by_requirement = |id| frameworks::requirement_coverage(id, &pack, items);
    assert_eq!(
        by_requirement("secure-configuration"),
        Some(Coverage::Partial)
    );
    assert_eq!(by_requirement("cloud-mfa"), Some(Coverage::Attested));
    assert_eq!(by_requirement("malware-protection"), None);
}
