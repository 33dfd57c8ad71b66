use super::*;
use crate::metrics::{FilesystemUsage, Metrics};
use observations::{ProcessCount, UnitState};

fn metrics() -> Metrics {
    Metrics {
        cpu_percent: 55.0,
        memory_used_bytes: 950,
        memory_total_bytes: 1000,
        load_1m: 3.5,
        filesystems: vec![
            FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 100,
                used_bytes: 50,
            },
            FilesystemUsage {
                mount_point: "/srv".into(),
                total_bytes: 100,
                used_bytes: 93,
            },
            FilesystemUsage {
                mount_point: "/empty".into(),
                total_bytes: 0,
                used_bytes: 0,
            },
        ],
        ..Metrics::default()
    }
}

fn facts<'a>(m: Option<&'a Metrics>, o: Option<&'a Observations>) -> Facts<'a> {
    Facts {
        metrics: m,
        observations: o,
        last_seen: Some(Timestamp(0)),
        backup: None,
        posture: None,
        patching: None,
        detection: None,
        now: Timestamp(0),
    }
}

fn disk(mount: Option<&str>) -> DeviceCheck {
    DeviceCheck::Disk {
        mount: mount.map(Into::into),
        warn_percent: Some(90.0),
        critical_percent: Some(95.0),
    }
}

#[test]
fn disk_judges_the_fullest_filesystem_or_the_one_named() {
    let m = metrics();
    let f = facts(Some(&m), None);
    assert_eq!(
        evaluate(&disk(None), &f),
        Some((CheckStatus::Warning, "/srv at 93 %".into()))
    );
    assert_eq!(
        evaluate(&disk(Some("/")), &f).map(|r| r.0),
        Some(CheckStatus::Ok)
    );
    assert_eq!(
        evaluate(&disk(Some("/data")), &f),
        Some((
            CheckStatus::Unknown,
            "no filesystem mounted at /data".into()
        ))
    );
    assert_eq!(
        evaluate(&disk(None), &facts(None, None)),
        None,
        "no metrics, no result"
    );
}

#[test]
fn thresholds_are_inclusive_and_critical_wins() {
    let m = metrics();
    let f = facts(Some(&m), None);
    let memory = |w, c| DeviceCheck::Memory {
        warn_percent: w,
        critical_percent: c,
    };
    assert_eq!(
        evaluate(&memory(Some(90.0), Some(95.0)), &f),
        Some((CheckStatus::Critical, "memory 95 % used".into()))
    );
    assert_eq!(
        evaluate(&memory(Some(95.0), None), &f).map(|r| r.0),
        Some(CheckStatus::Warning)
    );
    let cpu = DeviceCheck::Cpu {
        warn_percent: Some(80.0),
        critical_percent: None,
    };
    assert_eq!(evaluate(&cpu, &f).map(|r| r.0), Some(CheckStatus::Ok));
    let load = DeviceCheck::Load {
        warn: Some(2.0),
        critical: Some(4.0),
    };
    assert_eq!(
        evaluate(&load, &f),
        Some((CheckStatus::Warning, "load 3.50".into()))
    );
}

#[test]
fn a_heartbeat_is_missed_after_its_limit() {
    let check = DeviceCheck::Heartbeat {
        missed_after_secs: 300,
    };
    let at = |seen: Option<i64>, now: i64| {
        evaluate(
            &check,
            &Facts {
                metrics: None,
                observations: None,
                last_seen: seen.map(Timestamp),
                backup: None,
                posture: None,
                patching: None,
                detection: None,
                now: Timestamp(now),
            },
        )
    };
    assert_eq!(at(Some(0), 299_999).map(|r| r.0), Some(CheckStatus::Ok));
    assert_eq!(
        at(Some(0), 300_000),
        Some((CheckStatus::Critical, "no check-in for 5 min".into()))
    );
    assert_eq!(at(None, 1).map(|r| r.0), Some(CheckStatus::Critical));
}

#[test]
fn units_processes_and_failed_units_are_judged_on_what_the_agent_saw() {
    let seen = Observations {
        watch_version: "v".into(),
        probes: Vec::new(),
        failed_units: Some(vec!["backup.service".into()]),
        units: vec![
            UnitState {
                name: "nginx.service".into(),
                active_state: "active".into(),
            },
            UnitState {
                name: "cron.service".into(),
                active_state: "failed".into(),
            },
            UnitState {
                name: "ghost.service".into(),
                active_state: "not-found".into(),
            },
        ],
        processes: vec![ProcessCount {
            name: "postgres".into(),
            running: 2,
        }],
    };
    let f = facts(None, Some(&seen));
    let unit = |u: &str| evaluate(&DeviceCheck::Unit { unit: u.into() }, &f);
    assert_eq!(unit("nginx.service").map(|r| r.0), Some(CheckStatus::Ok));
    assert_eq!(
        unit("cron.service"),
        Some((CheckStatus::Critical, "cron.service is failed".into()))
    );
    assert_eq!(
        unit("ghost.service").map(|r| r.0),
        Some(CheckStatus::Critical)
    );
    assert_eq!(unit("new.service").map(|r| r.0), Some(CheckStatus::Unknown));
    let process = |n: &str, min| {
        evaluate(
            &DeviceCheck::Process {
                name: n.into(),
                min_count: min,
            },
            &f,
        )
        .map(|r| r.0)
    };
    assert_eq!(process("postgres", 2), Some(CheckStatus::Ok));
    assert_eq!(process("postgres", 3), Some(CheckStatus::Critical));
    assert_eq!(
        evaluate(&DeviceCheck::FailedUnits, &f),
        Some((CheckStatus::Warning, "backup.service has failed".into()))
    );
    let no_systemd = Observations::default();
    assert_eq!(
        evaluate(&DeviceCheck::FailedUnits, &facts(None, Some(&no_systemd))),
        None,
        "no systemd: nothing to judge"
    );
    assert_eq!(
        evaluate(&DeviceCheck::FailedUnits, &facts(None, None)),
        None
    );
}

#[test]
fn bad_definitions_are_refused_with_the_field() {
    let bad = [
        (
            DeviceCheck::Memory {
                warn_percent: Some(120.0),
                critical_percent: None,
            },
            "warn: a percentage is 0 to 100",
        ),
        (
            DeviceCheck::Cpu {
                warn_percent: Some(90.0),
                critical_percent: Some(80.0),
            },
            "the warning threshold is above the critical one",
        ),
        (
            DeviceCheck::Load {
                warn: None,
                critical: None,
            },
            "give a warning or a critical threshold (or both)",
        ),
        (
            DeviceCheck::Unit {
                unit: "two words".into(),
            },
            "unit: 1 to 256 characters, no control characters or spaces",
        ),
        (
            DeviceCheck::Heartbeat {
                missed_after_secs: 5,
            },
            "missed_after_secs: 60 seconds to 30 days",
        ),
        (
            DeviceCheck::Process {
                name: "x".into(),
                min_count: 0,
            },
            "min_count: 1 to 10,000",
        ),
    ];
    for (check, message) in bad {
        assert_eq!(
            check.check().map_err(|e| e.to_string()),
            Err(message.into())
        );
    }
    for (_, check, _) in defaults() {
        assert_eq!(check.check(), Ok(()), "{check:?}");
    }
}

#[test]
fn targets_parse_print_and_match() {
    for s in ["all", "device:d1", "group:g1", "tag:web"] {
        assert_eq!(Target::parse(s).map(|t| t.as_string()), Ok(s.to_string()));
    }
    for bad in ["", "everything", "device:", "site:x", "tag:a\nb"] {
        assert!(Target::parse(bad).is_err(), "{bad:?}");
    }
    let groups = vec!["g1".to_string()];
    let tags = vec!["web".to_string()];
    let d = Membership {
        device_id: "d1",
        groups: &groups,
        tags: &tags,
    };
    for (s, covers) in [
        ("all", true),
        ("device:d1", true),
        ("device:d2", false),
        ("group:g1", true),
        ("group:g2", false),
        ("tag:web", true),
        ("tag:db", false),
    ] {
        assert_eq!(Target::parse(s).map(|t| t.covers(&d)), Ok(covers), "{s}");
    }
}

#[test]
fn a_watch_list_is_sorted_deduplicated_and_versioned_by_content() {
    let checks = [
        DeviceCheck::Unit {
            unit: "b.service".into(),
        },
        DeviceCheck::Unit {
            unit: "a.service".into(),
        },
        DeviceCheck::Unit {
            unit: "a.service".into(),
        },
        DeviceCheck::Process {
            name: "nginx".into(),
            min_count: 1,
        },
        DeviceCheck::FailedUnits,
    ];
    let watch = Watch::of(&checks);
    assert_eq!(watch.units, vec!["a.service", "b.service"]);
    assert_eq!(watch.processes, vec!["nginx"]);
    assert_eq!(watch.version.len(), 16);
    assert_eq!(Watch::of(checks.iter().rev()).version, watch.version);
    assert_ne!(Watch::of(&checks[..1]).version, watch.version);
}

#[test]
fn observations_beyond_the_bounds_are_refused_and_the_agent_clamps_them() {
    let mut seen = Observations {
        failed_units: Some(vec!["x".into(); observations::MAX_FAILED_UNITS + 1]),
        units: vec![
            UnitState {
                name: "a\u{1b}b".into(),
                active_state: "active".into(),
            };
            3
        ],
        ..Observations::default()
    };
    assert!(seen.check_limits().is_err());
    seen.clamp_to_limits();
    assert_eq!(seen.check_limits(), Ok(()));
}
