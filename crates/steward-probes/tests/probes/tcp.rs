use std::time::Duration;

use steward_core::alerting::CheckStatus;
use steward_probes::{Probe, Tcp, run};

use crate::peers::client;

#[tokio::test]
async fn an_open_port_is_ok_and_a_closed_one_critical() {
    let client = client();
    let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = open.local_addr().unwrap().port();
    // A port that was just free: nothing listens.
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let probe = |port| {
        Probe::Tcp(Tcp {
            host: "127.0.0.1".into(),
            port,
        })
    };
    let ok = run(&probe(open_port), &client, Duration::from_secs(2)).await;
    assert_eq!(ok.status, CheckStatus::Ok, "{ok:?}");
    assert!(
        ok.summary.starts_with(&format!("port {open_port} open")),
        "{ok:?}"
    );
    let refused = run(&probe(closed), &client, Duration::from_secs(2)).await;
    assert_eq!(refused.status, CheckStatus::Critical, "{refused:?}");
}

#[test]
fn bad_settings_name_the_field() {
    let bad = Probe::Tcp(Tcp {
        host: String::new(),
        port: 0,
    });
    assert_eq!(bad.check(), Err("host is missing".into()));
    let bad = Probe::Tcp(Tcp {
        host: "db".into(),
        port: 0,
    });
    assert_eq!(bad.check(), Err("port is 1 to 65535".into()));
}
