//! Monitoring from the shell, run by the real binary: `steward admin checks|alerts|
//! maintenance|channels` against an installation's database (no server needed), with the
//! same refusals and audit entries as the API; and the config file's `[[routes]]` and
//! `[[maintenance]]`, stored when the server starts and replaced when the file changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Steward, admin};
use steward_testkit::peers::{next_within, webhook_receiver};

/// Runs `steward admin ARGS --data-dir DIR`: (exit code, stdout, stderr).
fn run(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::BIN)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The line of `table` that starts with `name` (then spaces), with its cells.
fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with("  ")))
        .unwrap_or_else(|| panic!("no row {name:?} in\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test]
async fn checks_alerts_and_maintenance_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // An installation that has never run a server: its database and first administrator.
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    let store = steward_store::Store::connect(&url).await.unwrap();
    steward_server::admin::ensure_first_admin(
        &store,
        steward_server::secrets::PasswordHashing::TestOnlyCheap,
        steward_core::Timestamp(1),
    )
    .await
    .unwrap();
    store.close().await;

    // Nothing yet, said plainly; and as JSON for scripts.
    assert_eq!(admin(data, &["alerts", "list"]), "nothing is wrong");
    let view: serde_json::Value =
        serde_json::from_str(&admin(data, &["alerts", "list", "--all", "--json"])).unwrap();
    assert_eq!(view["open"], serde_json::json!([]), "{view}");
    assert_eq!(view["resolved"], serde_json::json!([]), "{view}");
    assert_eq!(admin(data, &["checks", "list"]), "no checks");

    // Checks described by flags, or by TOML as in the config file.
    admin(data, &["group", "create", "Shop"]);
    let id = admin(
        data,
        &[
            "checks",
            "add",
            "shop-website",
            "--kind",
            "http",
            "--url",
            "http://127.0.0.1:9/",
            "--interval",
            "30s",
        ],
    );
    assert!(!id.is_empty());
    admin(
        data,
        &[
            "checks",
            "add",
            "shop-disks",
            "--kind",
            "disk",
            "--group",
            "Shop",
            "--warn-percent",
            "80",
            "--sustain",
            "5m",
        ],
    );
    admin(
        data,
        &[
            "checks",
            "add",
            "--toml",
            r#"{ name = "database", kind = "tcp", host = "db.internal", port = 5432 }"#,
        ],
    );
    let list = admin(data, &["checks", "list"]);
    assert_eq!(
        row(&list, "shop-website"),
        ["shop-website", "http", "network", "30 s", "ok", "console"]
    );
    assert_eq!(
        row(&list, "shop-disks"),
        [
            "shop-disks",
            "disk",
            "group Shop",
            "each report",
            "ok",
            "console"
        ]
    );
    assert_eq!(row(&list, "database")[1], "tcp");
    let json: serde_json::Value =
        serde_json::from_str(&admin(data, &["checks", "list", "--json"])).unwrap();
    let disks = json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shop-disks")
        .unwrap();
    assert_eq!(disks["check"]["warn_percent"], 80.0);
    assert_eq!(disks["sustain_secs"], 300);
    assert!(disks["target"].as_str().unwrap().starts_with("group:"));
    let shown = admin(data, &["checks", "show", "shop-disks"]);
    assert!(shown.contains("warn_percent = 80"), "{shown}");
    assert!(shown.contains("no device has a problem"), "{shown}");

    // Maintenance windows: one-off from now, and weekly.
    admin(
        data,
        &[
            "maintenance",
            "add",
            "tonight",
            "--group",
            "Shop",
            "--for",
            "2h",
            "--reason",
            "new switch",
        ],
    );
    admin(
        data,
        &[
            "maintenance",
            "add",
            "weekends",
            "--check",
            "shop-website",
            "--days",
            "sat,sun",
            "--at",
            "22:00",
            "--for",
            "4h",
        ],
    );
    let windows = admin(data, &["maintenance", "list"]);
    let tonight = row(&windows, "tonight");
    assert_eq!(tonight[1], "group Shop");
    assert_eq!(tonight[3..], ["open", "console", "new switch"]);
    let weekends = row(&windows, "weekends");
    assert_eq!(
        weekends[1..3],
        ["check shop-website", "sat,sun at 22:00 UTC for 4h"]
    );

    // Bad input is a clear error and a failed exit, and changes nothing.
    let refusals: [(&[&str], i32, &str); 9] = [
        (
            &[
                "checks",
                "add",
                "x",
                "--kind",
                "disk",
                "--warn-percent",
                "abc",
            ],
            2,
            "invalid value 'abc' for '--warn-percent",
        ),
        (
            &[
                "checks",
                "add",
                "x",
                "--kind",
                "disk",
                "--warn-percent",
                "120",
            ],
            1,
            "check \"x\": warn: a percentage is 0 to 100",
        ),
        (
            &[
                "checks",
                "add",
                "x",
                "--kind",
                "http",
                "--url",
                "http://h/",
                "--port",
                "80",
            ],
            1,
            "port is not a setting of http checks",
        ),
        (
            &[
                "checks",
                "add",
                "shop-website",
                "--kind",
                "tcp",
                "--host",
                "h",
                "--port",
                "1",
            ],
            1,
            "a check named shop-website already exists",
        ),
        (&["checks", "--bogus"], 2, "unexpected argument '--bogus'"),
        (
            &[
                "checks", "add", "x", "--kind", "tcp", "--host", "h", "--port", "1", "--runner",
                "nosuch",
            ],
            1,
            "nosuch",
        ),
        (
            &[
                "checks",
                "add",
                "x",
                "--kind",
                "cpu",
                "--warn-percent",
                "90",
                "--runner",
                "server",
            ],
            1,
            "--runner is for network monitors",
        ),
        (
            &[
                "maintenance",
                "add",
                "x",
                "--days",
                "someday",
                "--at",
                "1:00",
                "--for",
                "1h",
            ],
            1,
            "days: \"someday\" is not a day",
        ),
        (
            &["alerts", "ack", "shop-disks", "--comment", "looking"],
            1,
            "shop-disks has no open problem",
        ),
    ];
    for (args, code, says) in refusals {
        let (got, _, err) = run(data, args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let unchanged: serde_json::Value =
        serde_json::from_str(&admin(data, &["checks", "list", "--json"])).unwrap();
    assert_eq!(unchanged, json);

    admin(data, &["maintenance", "remove", "weekends"]);
    admin(data, &["checks", "remove", "shop-website"]);
    assert!(!admin(data, &["checks", "list"]).contains("shop-website"));
    assert!(!admin(data, &["maintenance", "list"]).contains("weekends"));
    // Audited as the API's changes are, with the shell's user as the actor.
    let audit = admin(data, &["audit", "export"]);
    for action in [
        "check.create",
        "maintenance.create",
        "maintenance.delete",
        "check.delete",
    ] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(&format!("\"{action}\"")) && l.contains(",\"cli")),
            "{action}: {audit}"
        );
    }
}

fn config(hook: &str, with_rules: bool) -> String {
    let rules = if with_rules {
        r#"
[[routes]]
channel = "ops"
urgency = "critical"

[[routes]]
channel = "nobody"

[[maintenance]]
name = "patch-night"
days = ["sat", "sun"]
at = "22:00"
duration = "4h"
reason = "updates"

[[maintenance]]
name = "moving"
device = "not-enrolled"
start = 2026-05-01T22:00:00Z
end = 2026-05-02T02:00:00Z
"#
    } else {
        ""
    };
    format!(
        r#"[[notifications]]
name = "ops"
kind = "webhook"
url = "{hook}"
{rules}
[[checks]]
name = "shop-disks"
kind = "disk"
group = "Shop"
warn_percent = 90
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_and_windows_of_the_config_file_are_stored_at_start() {
    let (hook, mut received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("steward.toml");
    std::fs::write(&file, config(&hook, true)).unwrap();
    let args = [
        "server",
        "--config",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    // The entries that cannot be stored are reported with the file and line, once stored.
    let server = Steward::start(&args, "maintenance \"moving\"");
    let moving = format!(
        "{} line 20: maintenance \"moving\": no device named \"not-enrolled\"; this entry is left out",
        file.display()
    );
    assert!(server.said(&moving), "{}", server.output());
    assert!(
        server.said(&format!(
            "{} line 10: route to \"nobody\": no notification channel has this name",
            file.display()
        )),
        "{}",
        server.output()
    );

    // A device check for a group that does not exist yet is left out, and said.
    assert!(
        server
            .said("config: check \"shop-disks\": no group named \"Shop\"; this entry is left out"),
        "{}",
        server.output()
    );
    assert!(!admin(&data, &["checks", "list"]).contains("shop-disks"));
    admin(&data, &["group", "create", "Shop"]);

    let windows = admin(&data, &["maintenance", "list"]);
    let patch = row(&windows, "patch-night");
    assert_eq!(patch[1..3], ["everything", "sat,sun at 22:00 UTC for 4h"]);
    assert_eq!(patch[4..], ["config", "updates"]);
    assert!(!windows.contains("moving"), "{windows}");
    let channels = admin(&data, &["channels", "list"]);
    assert_eq!(
        row(&channels, "ops")[1..4],
        ["webhook", "critical+ on every device", "config"]
    );
    // Declared entries are changed in the file, not from the shell.
    let (code, _, err) = run(&data, &["maintenance", "remove", "patch-night"]);
    assert_eq!(code, 1);
    assert!(err.contains("declared in the configuration file"), "{err}");
    // A test message goes out at once through the channel.
    assert!(admin(&data, &["channels", "test", "ops"]).contains("delivered"));
    let message = next_within(&mut received, Duration::from_secs(10))
        .await
        .expect("the test message");
    assert_eq!(message["alerts"][0]["event"], "test", "{message}");
    server.kill();

    // The file without them: the next start removes what it declared before, and stores
    // the device check now that its group exists.
    std::fs::write(&file, config(&hook, false)).unwrap();
    let server = Steward::start(&args, "listening on");
    // (The server says it listens before it stores the file's entries.)
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let windows = admin(&data, &["maintenance", "list"]);
        let channels = admin(&data, &["channels", "list"]);
        let checks = admin(&data, &["checks", "list"]);
        if windows == "no maintenance windows"
            && row(&channels, "ops")[2] == "everything"
            && checks.contains("shop-disks")
        {
            assert_eq!(
                row(&checks, "shop-disks"),
                [
                    "shop-disks",
                    "disk",
                    "group Shop",
                    "each report",
                    "ok",
                    "config"
                ]
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not as declared:\n{windows}\n{channels}\n{checks}\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.kill();
}
