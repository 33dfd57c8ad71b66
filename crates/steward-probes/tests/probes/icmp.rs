//! ICMP echo. The loopback answers; for a host that does not, and for a process without
//! permission to send ICMP, the probe runs (as the `steward-probe` binary) in a network
//! namespace of the test's own — where echo replies are switched off, or unprivileged ping
//! is — and, for the permission cases, as user `nobody` without capabilities. Needs root
//! (CI and these machines run as root); the host's own settings are not touched.

use std::time::Duration;

use steward_core::alerting::CheckStatus;
use steward_probes::{Icmp, Probe, run};

use crate::peers::{Seen, client, isolated};

fn loopback(count: u16) -> Probe {
    Probe::Icmp(Icmp {
        host: "127.0.0.1".into(),
        count,
    })
}

/// Runs `probe` in a fresh network namespace whose loopback is up, after `setup` there.
fn in_namespace(setup: &str, unprivileged: bool, probe: &Probe) -> Seen {
    isolated(
        "--net",
        &format!("ip link set lo up && {setup}"),
        unprivileged,
        probe,
    )
}

#[tokio::test]
async fn the_loopback_answers_every_request() {
    let outcome = run(&loopback(3), &client(), Duration::from_secs(3)).await;
    assert_eq!(outcome.status, CheckStatus::Ok, "{outcome:?}");
    assert!(
        outcome
            .summary
            .starts_with("127.0.0.1: 3 of 3 replies (0 % loss), round trip min/avg/max "),
        "{outcome:?}"
    );
}

#[test]
fn a_host_that_does_not_answer_is_critical() {
    let seen = in_namespace(
        "sysctl -qw net.ipv4.icmp_echo_ignore_all=1",
        false,
        &loopback(2),
    );
    assert_eq!(seen.status, CheckStatus::Critical, "{seen:?}");
    assert_eq!(
        seen.summary,
        "127.0.0.1: no reply to 2 echo requests (100 % loss)"
    );
}

#[test]
fn without_permission_to_send_icmp_the_result_is_unknown_and_says_what_to_set() {
    let seen = in_namespace(
        "sysctl -qw net.ipv4.ping_group_range='1 0'",
        true,
        &loopback(1),
    );
    assert_eq!(seen.status, CheckStatus::Unknown, "{seen:?}");
    assert!(
        seen.summary
            .contains("sysctl net.ipv4.ping_group_range=\"0 2147483647\""),
        "{seen:?}"
    );
    assert!(seen.summary.contains("CAP_NET_RAW"), "{seen:?}");
}

#[test]
fn an_unprivileged_process_pings_through_a_datagram_socket_when_allowed() {
    let seen = in_namespace(
        "sysctl -qw net.ipv4.ping_group_range='0 2147483647'",
        true,
        &loopback(2),
    );
    assert_eq!(seen.status, CheckStatus::Ok, "{seen:?}");
    assert!(seen.summary.contains("2 of 2 replies"), "{seen:?}");
}

#[test]
fn bad_settings_name_the_field() {
    let probe = |count| {
        Probe::Icmp(Icmp {
            host: "gateway".into(),
            count,
        })
    };
    assert_eq!(probe(0).check(), Err("count is 1 to 20".into()));
    assert_eq!(probe(21).check(), Err("count is 1 to 20".into()));
    assert_eq!(probe(3).check(), Ok(()));
}
