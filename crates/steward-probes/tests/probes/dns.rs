use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData};
use steward_core::alerting::CheckStatus;
use steward_probes::{Dns, Outcome, Probe, RecordKind, run};

use crate::peers::{client, dns as dns_server, isolated};

async fn look(server: SocketAddr, name: &str, kind: RecordKind, expect: Option<&str>) -> Outcome {
    let probe = Probe::Dns(Dns {
        name: name.into(),
        record_type: kind,
        server: Some(server),
        expect: expect.map(str::to_string),
    });
    run(&probe, &client(), Duration::from_secs(2)).await
}

async fn zone() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    dns_server(vec![
        ("shop.example.com.", RData::A(A::new(192, 0, 2, 10))),
        ("shop.example.com.", RData::A(A::new(192, 0, 2, 11))),
        (
            "example.com.",
            RData::MX(MX::new(10, Name::from_ascii("mail.example.com.").unwrap())),
        ),
        (
            "example.com.",
            RData::TXT(TXT::new(vec!["v=spf1 mx -all".into()])),
        ),
    ])
    .await
}

#[tokio::test]
async fn a_record_that_resolves_is_ok_and_a_wrong_one_critical() {
    let (server, _task) = zone().await;
    let any = look(server, "shop.example.com", RecordKind::A, None).await;
    assert_eq!(any.status, CheckStatus::Ok, "{any:?}");
    assert!(
        any.summary
            .starts_with("A for shop.example.com is 192.0.2.10, 192.0.2.11 ("),
        "{any:?}"
    );
    let expected = look(
        server,
        "shop.example.com",
        RecordKind::A,
        Some("192.0.2.11"),
    )
    .await;
    assert_eq!(expected.status, CheckStatus::Ok, "{expected:?}");
    let mx = look(
        server,
        "example.com",
        RecordKind::Mx,
        Some("mail.example.com"),
    )
    .await;
    assert_eq!(mx.status, CheckStatus::Ok, "{mx:?}");
    let spf = look(server, "example.com", RecordKind::Txt, Some("v=spf1")).await;
    assert_eq!(spf.status, CheckStatus::Ok, "{spf:?}");

    let moved = look(
        server,
        "shop.example.com",
        RecordKind::A,
        Some("192.0.2.99"),
    )
    .await;
    assert_eq!(moved.status, CheckStatus::Critical);
    assert_eq!(
        moved.summary,
        format!("A for shop.example.com at {server} is 192.0.2.10, 192.0.2.11, not 192.0.2.99")
    );
}

#[tokio::test]
async fn a_missing_name_or_record_is_critical() {
    let (server, _task) = zone().await;
    let gone = look(server, "old.example.com", RecordKind::A, None).await;
    assert_eq!(gone.status, CheckStatus::Critical);
    assert_eq!(
        gone.summary,
        format!("old.example.com does not exist (NXDOMAIN at {server})")
    );
    let no_v6 = look(server, "shop.example.com", RecordKind::Aaaa, None).await;
    assert_eq!(no_v6.status, CheckStatus::Critical);
    assert_eq!(
        no_v6.summary,
        format!("no AAAA record for shop.example.com at {server}")
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_critical_within_the_timeout() {
    // A bound socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    let outcome = run(
        &Probe::Dns(Dns {
            name: "shop.example.com".into(),
            record_type: RecordKind::A,
            server: Some(server),
            expect: None,
        }),
        &client(),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(outcome.status, CheckStatus::Critical, "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn without_a_resolver_configured_the_result_is_unknown() {
    // A mount namespace of the test's own where /etc/resolv.conf is empty.
    let seen = isolated(
        "--mount",
        "mount --bind /dev/null /etc/resolv.conf",
        false,
        &Probe::Dns(Dns {
            name: "shop.example.com".into(),
            record_type: RecordKind::A,
            server: None,
            expect: None,
        }),
    );
    assert_eq!(seen.status, CheckStatus::Unknown, "{seen:?}");
    assert!(
        seen.summary.starts_with("no DNS resolver configured"),
        "{seen:?}"
    );
}

#[test]
fn bad_settings_name_the_field() {
    let probe = |name: &str, expect: Option<&str>| {
        Probe::Dns(Dns {
            name: name.into(),
            record_type: RecordKind::A,
            server: None,
            expect: expect.map(str::to_string),
        })
    };
    assert!(
        probe("two words", None)
            .check()
            .unwrap_err()
            .starts_with("name is not a DNS name")
    );
    assert!(
        probe("shop.example.com", Some(" "))
            .check()
            .unwrap_err()
            .starts_with("expect is")
    );
    assert_eq!(probe("shop.example.com", None).check(), Ok(()));
    let parsed: Dns =
        serde_json::from_str(r#"{"name":"example.com","record_type":"AAAA"}"#).unwrap();
    assert_eq!(parsed.record_type, RecordKind::Aaaa);
}
