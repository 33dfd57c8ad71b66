//! The config file's `[[checks]]` and `[[notifications]]`, entry by entry.

#![allow(clippy::unwrap_used, clippy::panic)]

#[derive(serde::Deserialize)]
struct File {
    #[serde(default)]
    checks: Vec<super::RawEntry>,
    #[serde(default)]
    notifications: Vec<super::RawEntry>,
    #[serde(default)]
    routes: Vec<super::RawEntry>,
    #[serde(default)]
    maintenance: Vec<super::RawEntry>,
    #[serde(default)]
    backups: Vec<super::RawEntry>,
}

fn read(text: &str) -> super::Declared {
    let file: File = toml::from_str(text).unwrap();
    super::read(
        text,
        super::Sections {
            checks: &file.checks,
            notifications: &file.notifications,
            routes: &file.routes,
            maintenance: &file.maintenance,
            backups: &file.backups,
        },
    )
}

#[test]
fn the_issues_example_is_read_as_written() {
    let d = read(
        r#"
[[checks]]
name = "shop-website"
kind = "http"
url = "http://127.0.0.1:8081/"
interval = "5s"
retries = 1

[[notifications]]
name = "ops-webhook"
kind = "webhook"
url = "http://127.0.0.1:9099/hook"
"#,
    );
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.checks.len(), 1);
    assert_eq!(d.checks[0].interval, std::time::Duration::from_secs(5));
    assert_eq!(d.checks[0].retries, 1);
    assert_eq!(d.channels.len(), 1);
}

#[test]
fn a_bad_entry_is_reported_with_its_line_and_the_good_ones_kept() {
    let d = read(
        r#"[[checks]]
name = "good"
kind = "tcp"
host = "127.0.0.1"
port = 22

[[checks]]
name = "typo"
kind = "http"
url = "http://x/"
intreval = "5s"

[[checks]]
name = "slow"
kind = "http"
url = "http://x/"
interval = "five seconds"

[[checks]]
name = "good"
kind = "tcp"
host = "h"
port = 1

[[notifications]]
name = "ftp"
kind = "webhook"
url = "ftp://x/"
"#,
    );
    assert_eq!(
        d.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["good"]
    );
    assert!(d.channels.is_empty());
    assert_eq!(d.problems.len(), 4, "{:?}", d.problems);
    assert!(
        d.problems[0].starts_with("line 7: check \"typo\""),
        "{:?}",
        d.problems
    );
    assert!(d.problems[0].contains("intreval"), "{:?}", d.problems);
    assert!(
        d.problems[1].starts_with("line 13: check \"slow\": interval"),
        "{:?}",
        d.problems
    );
    assert!(
        d.problems[2].starts_with("line 19: check \"good\": another"),
        "{:?}",
        d.problems
    );
    assert!(
        d.problems[3].starts_with("line 25: notification \"ftp\""),
        "{:?}",
        d.problems
    );
}

/// A private file holding `text` (mode 600, as secret files must be).
fn secret(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.display().to_string()
}

#[test]
fn every_kind_of_notification_is_read_with_its_secrets_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let password = secret(dir.path(), "smtp-password", "mail-pass\n");
    let token = secret(dir.path(), "ntfy-token", "tk_abc\n");
    let d = read(&format!(
        r#"
[[notifications]]
name = "signed"
kind = "webhook"
url = "https://hooks.example/steward"
secret = "hmac-key"

[[notifications]]
name = "mail"
kind = "email"
host = "smtp.example.com"
port = 465
security = "tls"
username = "alerts"
password_file = {password:?}
from = "Steward <steward@example.com>"
to = ["ops@example.com", "ann@example.com"]

[[notifications]]
name = "chat"
kind = "slack"
url = "https://hooks.slack.com/services/T/B/X"

[[notifications]]
name = "office"
kind = "teams"
url = "https://example.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=x"

[[notifications]]
name = "phone"
kind = "ntfy"
url = "https://ntfy.sh/steward-alerts"
token_file = {token:?}

[[notifications]]
name = "bot"
kind = "telegram"
bot_token = "123456:ABC-def"
chat_id = "-1001234567890"
"#
    ));
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let kinds: Vec<_> = d.channels.iter().map(|c| c.channel.kind()).collect();
    assert_eq!(
        kinds,
        ["webhook", "email", "slack", "teams", "ntfy", "telegram"]
    );
    let steward_notify::Channel::Email(mail) = &d.channels[1].channel else {
        panic!("{:?}", d.channels[1])
    };
    assert_eq!(mail.password.as_ref().unwrap().expose(), "mail-pass");
    assert_eq!(mail.security, steward_notify::Security::Tls);
    assert_eq!(mail.to.len(), 2);
    let steward_notify::Channel::Ntfy(ntfy) = &d.channels[4].channel else {
        panic!()
    };
    assert_eq!(ntfy.token.as_ref().unwrap().expose(), "tk_abc");
    let steward_notify::Channel::Telegram(bot) = &d.channels[5].channel else {
        panic!()
    };
    assert_eq!(bot.api_base, "https://api.telegram.org");
}

#[test]
fn a_bad_notification_is_left_out_with_its_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let token = secret(dir.path(), "bot-token", "123456:ABC\n");
    let missing = dir.path().join("nope").display().to_string();
    let d = read(&format!(
        r#"[[notifications]]
name = "good"
kind = "webhook"
url = "http://127.0.0.1:9099/hook"

[[notifications]]
name = "port"
kind = "email"
host = "smtp.example.com"
port = 0
from = "a@example.com"
to = ["b@example.com"]

[[notifications]]
name = "nobody"
kind = "email"
host = "smtp.example.com"
from = "a@example.com"
to = []

[[notifications]]
name = "twice"
kind = "telegram"
bot_token = "1:x"
bot_token_file = {token:?}
chat_id = "@ops"

[[notifications]]
name = "typo"
kind = "slack"
url = "https://hooks.slack.com/services/T/B/X"
channel = "ops"

[[notifications]]
name = "pager"
kind = "pagerduty"

[[notifications]]
name = "lost"
kind = "ntfy"
url = "https://ntfy.sh/t"
token_file = {missing:?}

[[notifications]]
name = "clear"
kind = "email"
host = "mail.example.com"
security = "none"
from = "a@example.com"
to = ["b@example.com"]
"#
    ));
    assert_eq!(
        d.channels
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["good"]
    );
    let expected = [
        "line 6: notification \"port\": port: is 1 to 65535, not 0",
        "line 14: notification \"nobody\": to: lists no recipient",
        "line 21: notification \"twice\": bot_token is given both directly and as a file",
        "line 28: notification \"typo\": unknown field `channel`",
        "line 34: notification \"pager\": kind must be one of webhook, email, slack, teams, ntfy, telegram, not \"pagerduty\"",
        "line 38: notification \"lost\": token: cannot read secret file",
        "line 44: notification \"clear\": security: \"none\" sends mail and password in the clear",
    ];
    assert_eq!(d.problems.len(), expected.len(), "{:#?}", d.problems);
    for (problem, start) in d.problems.iter().zip(expected) {
        assert!(
            problem.starts_with(start),
            "{problem:?} should start with {start:?}"
        );
    }
    // Reasons never repeat a secret.
    assert!(
        !d.problems.iter().any(|p| p.contains("123456:ABC")),
        "{:?}",
        d.problems
    );
}

#[test]
fn every_kind_of_network_monitor_is_read_with_its_settings() {
    let ca = tempfile::NamedTempFile::new().unwrap();
    // Read as PEM here; whether it is a usable CA is the probe's business when it runs.
    let pem = "-----BEGIN CERTIFICATE-----\nMIIBCgKCAQEA\n-----END CERTIFICATE-----\n".to_string();
    std::fs::write(ca.path(), &pem).unwrap();
    let d = read(&format!(
        r#"
[[checks]]
name = "api"
kind = "http"
url = "https://shop.test/health"
json_pointer = "/status"
json_value = "ok"
warn_ms = 500
critical_ms = 2000
cert_warn_days = 21
cert_critical_days = 7
ca_file = "{}"

[[checks]]
name = "cert"
kind = "tls"
host = "shop.test"

[[checks]]
name = "mx"
kind = "dns"
host = "example.com"
record_type = "MX"
server = "127.0.0.1"
expect = "mail.example.com"

[[checks]]
name = "gateway"
kind = "icmp"
host = "192.0.2.1"
count = 5
"#,
        ca.path().display()
    ));
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    use steward_probes::{Dns, Http, Icmp, Probe, RecordKind, Tls};
    let probes: Vec<&Probe> = d.checks.iter().map(|c| &c.probe).collect();
    assert_eq!(
        probes[0],
        &Probe::Http(Http {
            url: "https://shop.test/health".into(),
            json_pointer: Some("/status".into()),
            json_value: Some("ok".into()),
            warn_ms: Some(500),
            critical_ms: Some(2000),
            cert_warn_days: Some(21),
            cert_critical_days: Some(7),
            ca_pem: Some(pem),
            ..Http::default()
        })
    );
    assert_eq!(
        probes[1],
        &Probe::Tls(Tls {
            host: "shop.test".into(),
            ..Tls::default()
        })
    );
    assert_eq!(
        probes[2],
        &Probe::Dns(Dns {
            name: "example.com".into(),
            record_type: RecordKind::Mx,
            server: Some("127.0.0.1:53".parse().unwrap()),
            expect: Some("mail.example.com".into()),
        })
    );
    assert_eq!(
        probes[3],
        &Probe::Icmp(Icmp {
            host: "192.0.2.1".into(),
            count: 5,
        })
    );
}

#[test]
fn a_monitor_with_wrong_settings_is_left_out_with_the_field_named() {
    let d = read(
        r#"[[checks]]
name = "ping"
kind = "icmp"
host = "192.0.2.1"
port = 80

[[checks]]
name = "cert"
kind = "tls"
host = "shop.test"
warn_days = 2
critical_days = 5

[[checks]]
name = "mx"
kind = "dns"
host = "example.com"
record_type = "MXX"

[[checks]]
name = "api"
kind = "http"
url = "https://shop.test/"
json_value = "ok"

[[checks]]
name = "smoke"
kind = "smtp"

[[checks]]
name = "fine"
kind = "dns"
host = "example.com"
"#,
    );
    assert_eq!(
        d.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["fine"]
    );
    let expected = [
        "line 1: check \"ping\": port is not a setting of icmp checks",
        "line 7: check \"cert\": warn_days (2) must be at least critical_days (5)",
        "line 14: check \"mx\": unknown variant `MXX`",
        "line 20: check \"api\": json_value needs json_pointer",
        "line 26: check \"smoke\": kind must be one of http, tcp, tls, dns, icmp, disk, memory, cpu, load, heartbeat, unit, failed_units, process, backup, drill, patching, detection, not \"smtp\"",
    ];
    assert_eq!(d.problems.len(), expected.len(), "{:?}", d.problems);
    for (problem, start) in d.problems.iter().zip(expected) {
        assert!(
            problem.starts_with(start),
            "{problem:?} should start {start:?}"
        );
    }
}

/// `[[routes]]`, `[[maintenance]]` and device checks.
mod rules;

/// `[[backups]]`.
mod backups;
