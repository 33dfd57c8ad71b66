//! `[[routes]]`, `[[maintenance]]`, and device checks as `steward admin checks add` reads
//! them.

use steward_core::Timestamp;
use steward_core::alerting::CheckStatus;
use steward_core::alerting::window::Window;
use steward_core::checks::DeviceCheck;
use steward_server::monitoring::windows::Named;

use super::read;
use crate::declared::checks::{CheckDefinition, definition};
use crate::declared::maintenance::{days, describe, parse_time};

/// 2026-05-01 22:00 UTC, and four hours later.
const MAY_1_22H: i64 = 1_777_672_800_000;
const MAY_2_02H: i64 = 1_777_687_200_000;

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

#[test]
fn routes_and_windows_are_read_as_written() {
    let d = read(
        r#"
[[routes]]
channel = "ops-phone"
urgency = "critical"

[[routes]]
channel = "shop-mail"
group = "Shop"

[[routes]]
channel = "web-team"
urgency = "unknown"
tag = "web"

[[maintenance]]
name = "patch-night"
group = "Shop"
days = ["sat", "Sunday"]
at = "22:00"
duration = "4h"
reason = "updates"

[[maintenance]]
name = "shop-move"
check = "shop-website"
start = 2026-05-01T22:00:00Z
end = "2026-05-02 02:00"

[[maintenance]]
name = "switch"
device = "router-1"
start = "2026-05-02T00:00+02:00"
duration = "4h"

[[maintenance]]
name = "quiet-nights"
days = "weekdays"
at = "01:30"
duration = "90m"
"#,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let routes: Vec<_> = d
        .routes
        .iter()
        .map(|r| (r.channel.as_str(), r.min_status, r.devices.clone()))
        .collect();
    assert_eq!(
        routes,
        [
            ("ops-phone", CheckStatus::Critical, Named::All),
            (
                "shop-mail",
                CheckStatus::Warning,
                Named::Group("Shop".into())
            ),
            ("web-team", CheckStatus::Unknown, Named::Tag("web".into())),
        ]
    );
    assert_eq!(d.routes[1].origin, "line 6");
    let [patch, moving, switch, quiet] = d.windows.as_slice() else {
        panic!("{:?}", d.windows)
    };
    assert_eq!(patch.covers, Named::Group("Shop".into()));
    assert_eq!(
        patch.schedule,
        Window::Weekly {
            days: vec![5, 6],
            start_minute: 22 * 60,
            minutes: 240
        }
    );
    assert_eq!(patch.reason, "updates");
    assert_eq!(patch.origin, "line 15");
    let once = Window::Once {
        start: Timestamp(MAY_1_22H),
        end: Timestamp(MAY_2_02H),
    };
    assert_eq!(moving.covers, Named::Check("shop-website".into()));
    assert_eq!(moving.schedule, once, "a TOML date-time and a string alike");
    assert_eq!(switch.covers, Named::Device("router-1".into()));
    assert_eq!(switch.schedule, once, "an offset and a duration");
    assert_eq!(
        quiet.schedule,
        Window::Weekly {
            days: vec![0, 1, 2, 3, 4],
            start_minute: 90,
            minutes: 90
        }
    );
    assert_eq!(describe(&patch.schedule), "sat,sun at 22:00 UTC for 4h");
    assert_eq!(
        describe(&moving.schedule),
        "once, 2026-05-01 22:00 UTC to 2026-05-02 02:00 UTC"
    );
}

#[test]
fn bad_routes_and_windows_are_left_out_with_line_and_reason() {
    let d = read(
        r#"[[routes]]
channel = "ops"
urgency = "ok"

[[routes]]
channel = "ops"
group = "Shop"
tag = "web"

[[routes]]
channel = "ops"
check = "shop-website"

[[routes]]
channel = "ops"

[[maintenance]]
name = "no-end"
start = "2026-05-01 22:00"

[[maintenance]]
name = "both"
start = "2026-05-01 22:00"
days = "sat"
at = "22:00"
duration = "1h"

[[maintenance]]
name = "holiday"
days = ["xmas"]
at = "22:00"
duration = "1h"

[[maintenance]]
name = "late"
days = "sat"
at = "24:00"
duration = "1h"

[[maintenance]]
name = "backwards"
start = "2026-05-02 02:00"
end = "2026-05-01 22:00"

[[maintenance]]
name = "seconds"
days = "sat"
at = "22:00"
duration = "90s"

[[maintenance]]
name = "feb"
start = "2026-02-29 10:00"
duration = "1h"

[[maintenance]]
name = "ok"
days = "daily"
at = "00:00"
duration = "1h"

[[maintenance]]
name = "ok"
days = "daily"
at = "12:00"
duration = "1h"
"#,
    );
    assert_eq!(d.routes.len(), 1, "{:?}", d.routes);
    assert_eq!(
        d.windows
            .iter()
            .map(|w| w.name.as_str())
            .collect::<Vec<_>>(),
        ["ok"]
    );
    let expected = [
        "line 1: route to \"ops\": urgency is warning, unknown or critical",
        "line 5: route to \"ops\": give one of device, group or tag",
        "line 10: route to \"ops\": unknown field `check`",
        "line 17: maintenance \"no-end\": a one-off window needs end (or duration)",
        "line 21: maintenance \"both\": a one-off window has start and end (or duration), a recurring one",
        "line 28: maintenance \"holiday\": days: \"xmas\" is not a day",
        "line 34: maintenance \"late\": at is a time of day such as 22:00 (UTC), not \"24:00\"",
        "line 40: maintenance \"backwards\": a window ends after it starts",
        "line 45: maintenance \"seconds\": duration of a recurring window is in whole minutes",
        "line 51: maintenance \"feb\": start: \"2026-02-29 10:00\" is not a date and time",
        "line 62: maintenance \"ok\": another maintenance window has this name",
    ];
    assert_eq!(d.problems.len(), expected.len(), "{:#?}", d.problems);
    for (problem, start) in d.problems.iter().zip(expected) {
        assert!(
            problem.starts_with(start),
            "{problem:?} should start with {start:?}"
        );
    }
}

#[test]
fn problems_and_origins_name_the_file() {
    let mut d = read(
        r#"[[routes]]
channel = "ops"

[[maintenance]]
name = "bad"
"#,
    );
    d.locate(std::path::Path::new("/etc/steward.toml"));
    assert_eq!(d.routes[0].origin, "/etc/steward.toml line 1");
    assert!(
        d.problems[0].starts_with("/etc/steward.toml line 4: maintenance \"bad\": give start"),
        "{:?}",
        d.problems
    );
}

#[test]
fn times_are_utc_unless_an_offset_says_otherwise() {
    let may = Timestamp(MAY_1_22H);
    for text in [
        "2026-05-01 22:00",
        "2026-05-01T22:00:00Z",
        "2026-05-01t22:00:00.000z",
        "2026-05-02T00:00+02:00",
        "2026-05-01T17:00:00-05:00",
    ] {
        assert_eq!(parse_time(text), Ok(may), "{text}");
    }
    assert_eq!(
        parse_time("2024-02-29 12:30:15"),
        Ok(Timestamp(1_709_209_815_000)),
        "a leap day"
    );
    for bad in [
        "2026-05-01",
        "2026-05-01 22",
        "2026-05-01 24:00",
        "2026-02-29 10:00",
        "2026-05-01 22:00 UTC",
        "01/05/2026 22:00",
        "1969-12-31 23:00",
    ] {
        assert!(parse_time(bad).is_err(), "{bad} was read");
    }
}

#[test]
fn days_are_named_in_lists_strings_and_shortcuts() {
    let day = |v: toml::Value| days(&v);
    assert_eq!(day("weekdays".into()), Ok(vec![0, 1, 2, 3, 4]));
    assert_eq!(day("weekends".into()), Ok(vec![5, 6]));
    assert_eq!(day("daily".into()), Ok((0..7).collect()));
    assert_eq!(day("mon, WED,mon".into()), Ok(vec![0, 2]));
    assert_eq!(
        day(toml::Value::Array(vec!["sunday".into(), "thu".into()])),
        Ok(vec![3, 6])
    );
    assert!(day("m".into()).is_err(), "too short to tell");
    assert!(day(toml::Value::Array(vec![])).is_err());
    assert!(day(toml::Value::Integer(5)).is_err());
}

#[test]
fn device_checks_are_read_with_their_devices_and_rules() {
    let CheckDefinition::Device(disk) = definition(&table(
        r#"
name = "shop-disks"
kind = "disk"
group = "Shop"
mount = "/srv"
warn_percent = 80
critical_percent = 95.5
sustain = "10m"
runbook = "Empty /srv/tmp."
"#,
    ))
    .unwrap() else {
        panic!()
    };
    assert_eq!(disk.name, "shop-disks");
    assert_eq!(disk.covers, Named::Group("Shop".into()));
    assert_eq!(
        disk.check,
        DeviceCheck::Disk {
            mount: Some("/srv".into()),
            warn_percent: Some(80.0),
            critical_percent: Some(95.5),
        }
    );
    assert_eq!(disk.sustain, std::time::Duration::from_secs(600));
    assert_eq!(disk.retries, 0);
    let device = |text: &str| match definition(&table(text)) {
        Ok(CheckDefinition::Device(d)) => (d.check, d.covers),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        device("name = \"pg\"\nkind = \"process\"\nprocess = \"postgres\"\ndevice = \"db-1\""),
        (
            DeviceCheck::Process {
                name: "postgres".into(),
                min_count: 1
            },
            Named::Device("db-1".into())
        )
    );
    assert_eq!(
        device("name = \"hb\"\nkind = \"heartbeat\"").0,
        DeviceCheck::Heartbeat {
            missed_after_secs: 600
        }
    );
    assert_eq!(
        device("name = \"u\"\nkind = \"unit\"\nunit = \"nginx.service\"\ntag = \"web\"").1,
        Named::Tag("web".into())
    );
    assert_eq!(
        device("name = \"l\"\nkind = \"load\"\ncritical = 8").0,
        DeviceCheck::Load {
            warn: None,
            critical: Some(8.0)
        }
    );
    let refused = |text: &str| definition(&table(text)).err().unwrap();
    assert_eq!(
        refused("name = \"d\"\nkind = \"disk\"\nwarn_percent = 80\ninterval = \"5s\""),
        "interval is not a setting of disk checks"
    );
    assert_eq!(
        refused("name = \"d\"\nkind = \"disk\"\nwarn_percent = 120"),
        "warn: a percentage is 0 to 100"
    );
    assert_eq!(
        refused("name = \"d\"\nkind = \"memory\""),
        "give a warning or a critical threshold (or both)"
    );
    assert_eq!(
        refused("name = \"u\"\nkind = \"unit\""),
        "a unit check needs unit (such as nginx.service)"
    );
    assert_eq!(
        refused("name = \"d\"\nkind = \"cpu\"\nwarn_percent = 80\ngroup = \"a\"\ndevice = \"b\""),
        "give one of device, group or tag (none: every device)"
    );
    assert_eq!(
        refused("name = \"t\"\nkind = \"tcp\"\nhost = \"h\"\nport = 1\ngroup = \"a\""),
        "group is not a setting of tcp checks"
    );
}

#[test]
fn device_checks_in_the_file_keep_the_names_they_cover_until_the_start() {
    let d = read(
        r#"[[checks]]
name = "shop-disks"
kind = "disk"
group = "Shop"
warn_percent = 90
sustain = "5m"

[[checks]]
name = "nginx"
kind = "unit"
unit = "nginx.service"
tag = "web"

[[checks]]
name = "nginx"
kind = "tcp"
host = "h"
port = 80
"#,
    );
    use steward_core::checks::Target;
    let covered: Vec<_> = d
        .device_checks
        .iter()
        .map(|c| (c.name.as_str(), c.target.clone()))
        .collect();
    assert_eq!(
        covered,
        [
            ("shop-disks", Target::Group("Shop".into())),
            ("nginx", Target::Tag("web".into()))
        ]
    );
    assert_eq!(
        d.device_checks[0].sustain,
        std::time::Duration::from_secs(300)
    );
    assert!(d.checks.is_empty());
    assert_eq!(
        d.problems,
        ["line 14: check \"nginx\": another check has this name"]
    );
}

#[test]
fn the_configuration_guides_examples_read_as_documented() {
    let guide = include_str!("../../../../../docs/CONFIGURATION.md");
    let blocks: Vec<&str> = guide
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|b| {
            ["[[checks]]", "[[routes]]", "[[maintenance]]"]
                .iter()
                .any(|s| b.contains(s))
        })
        .collect();
    assert!(blocks.len() >= 9, "the guide's examples: {}", blocks.len());
    let (mut routes, mut windows, mut device_checks) = (0, 0, 0);
    for block in blocks {
        let d = read(block);
        assert!(d.problems.is_empty(), "{block}\n{:?}", d.problems);
        routes += d.routes.len();
        windows += d.windows.len();
        device_checks += d.device_checks.len();
    }
    assert_eq!((routes, windows, device_checks), (2, 2, 2));
}
