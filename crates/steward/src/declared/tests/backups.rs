//! `[[backups]]`: read as written, with defaults; each kind of mistake reported with its line
//! and what was expected, the good entries kept.

use steward_core::backup::retention::Keep;

use super::read;

#[test]
fn the_issues_example_is_read_as_written_with_defaults_for_the_rest() {
    let d = read(
        r#"
[[backups]]
name = "documents"
devices = "all"
paths = ["/srv/share"]
schedule = "daily 01:00"
keep = { daily = 7, weekly = 4, monthly = 12 }
"#,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let [b] = d.backups.as_slice() else {
        panic!("one policy: {:?}", d.backups)
    };
    assert_eq!(b.origin, "line 2");
    let p = &b.policy;
    assert_eq!(
        (p.name.as_str(), p.target.as_str(), p.schedule.as_str()),
        ("documents", "all", "daily 01:00")
    );
    assert_eq!(p.paths, ["/srv/share"]);
    assert_eq!(
        p.keep,
        Keep {
            daily: 7,
            weekly: 4,
            monthly: 12,
            ..Keep::default()
        }
    );
    assert!(p.excludes.iter().any(|e| e == "/proc") && p.excludes.iter().any(|e| e == "*.tmp"));
    assert_eq!(p.protection_ms, 30 * 86_400_000);
    assert_eq!(p.bandwidth_kib, None);
    assert!(p.enabled);
}

#[test]
fn targets_by_name_presets_and_the_optional_settings() {
    let d = read(
        r#"
[[backups]]
name = "shop servers"
devices = "group:Shop"
preset = "linux-server"
schedule = "weekly sun 02:30"
keep = { last = 3 }
protection_days = 14
bandwidth_kib = 2048

[[backups]]
name = "laptops"
devices = "tag:laptop"
paths = ["/home"]
excludes = ["*.iso"]
schedule = "every 6h"

[[backups]]
name = "till"
devices = "device:till-1"
paths = ["/var/lib/till"]
keep = {}
enabled = false
"#,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let [shop, laptops, till] = d.backups.as_slice() else {
        panic!("three policies: {:?}", d.backups)
    };
    // Names are looked up when the server starts.
    assert_eq!(shop.policy.target, "group:Shop");
    assert!(shop.policy.paths.contains(&"/var/lib".to_string()));
    assert!(
        shop.policy
            .excludes
            .contains(&"/var/lib/docker".to_string())
    );
    assert_eq!(shop.policy.protection_ms, 14 * 86_400_000);
    assert_eq!(shop.policy.bandwidth_kib, Some(2048));
    assert_eq!(laptops.policy.target, "tag:laptop");
    assert_eq!(
        laptops.policy.excludes,
        ["*.iso"],
        "given excludes replace the defaults"
    );
    assert_eq!(till.policy.target, "device:till-1");
    assert_eq!(
        till.policy.keep,
        Keep::default(),
        "an empty keep keeps everything"
    );
    assert!(!till.policy.enabled);
}

#[test]
fn each_mistake_is_reported_with_its_line_and_the_good_entries_kept() {
    let d = read(
        r#"[[backups]]
name = "good"
paths = ["/srv"]

[[backups]]
name = "typo"
pahts = ["/srv"]

[[backups]]
name = "keep typo"
paths = ["/srv"]
keep = { dayly = 7 }

[[backups]]
name = "bad schedule"
paths = ["/srv"]
schedule = "dialy 01:00"

[[backups]]
name = "relative"
paths = ["srv/share"]

[[backups]]
name = "nothing"

[[backups]]
name = "everything"
devices = "everything"
paths = ["/srv"]

[[backups]]
name = "unprotected"
paths = ["/srv"]
protection_days = 0

[[backups]]
name = "no limit"
paths = ["/srv"]
bandwidth_kib = 0

[[backups]]
name = "nas"
preset = "nas"

[[backups]]
name = "good"
paths = ["/home"]

[[backups]]
paths = ["/srv"]

[[backups]]
name = "one path"
paths = "/srv"

[[backups]]
name = "quick"
paths = ["/srv"]
schedule = "every 5m"
"#,
    );
    assert_eq!(d.backups.len(), 1);
    assert_eq!(
        d.backups[0].policy.paths,
        ["/srv"],
        "the first \"good\" stays"
    );
    let expected = [
        "line 5: backup policy \"typo\": unknown field `pahts`",
        "line 9: backup policy \"keep typo\": unknown field `dayly`",
        "line 14: backup policy \"bad schedule\": schedule: \"dialy 01:00\": expected `hourly`",
        "line 19: backup policy \"relative\": paths: \"srv/share\" is not an absolute path",
        "line 23: backup policy \"nothing\": paths: give at least one absolute path, or a preset (linux-server, workstation)",
        "line 26: backup policy \"everything\": devices is \"all\", \"group:NAME\", \"tag:NAME\" or \"device:NAME\", not \"everything\"",
        "line 31: backup policy \"unprotected\": protection_days: 1 to 3650",
        "line 36: backup policy \"no limit\": bandwidth_kib: 1 to",
        "line 41: backup policy \"nas\": preset: one of linux-server, workstation, not \"nas\"",
        "line 45: backup policy \"good\": another backup policy has this name",
        "line 49: backup policy (without a name): missing field `name`",
        "line 52: backup policy \"one path\": invalid type: string \"/srv\", expected a sequence",
        "line 56: backup policy \"quick\": schedule: \"every 5m\": at least every 15 minutes",
    ];
    assert_eq!(d.problems.len(), expected.len(), "{:#?}", d.problems);
    for (problem, start) in d.problems.iter().zip(expected) {
        assert!(
            problem.starts_with(start),
            "{problem:?} should start {start:?}"
        );
    }
}

#[test]
fn the_config_file_takes_the_section_and_names_the_file_in_problems() {
    let file = crate::config::FileConfig::parse(
        r#"
[[backups]]
name = "documents"
paths = ["/srv/share"]

[[backups]]
name = "broken"
paths = ["/srv"]
schedule = "nightly"
"#,
    )
    .unwrap();
    assert_eq!(file.declared.backups.len(), 1);
    let mut declared = file.declared;
    declared.locate(std::path::Path::new("/etc/steward.toml"));
    assert_eq!(declared.backups[0].origin, "/etc/steward.toml line 2");
    assert!(
        declared.problems[0].starts_with("/etc/steward.toml line 6: backup policy \"broken\""),
        "{:?}",
        declared.problems
    );
}
