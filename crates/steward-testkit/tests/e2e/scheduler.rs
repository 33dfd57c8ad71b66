//! The scheduler keeps check definitions in memory: an edit made through another
//! connection to the same database (another server on the same PostgreSQL, the CLI beside a
//! SQLite server) is run within seconds, and a check deleted there stops running.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use steward_server::monitoring::DeclaredCheck;
use steward_store::Store;
use steward_testkit::{TestDb, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// An HTTP target that reports the path of every request it answers.
async fn recording_target() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(path) = head.split(' ').nth(1) {
                    let _ = tx.send(path.to_string());
                }
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (addr, rx)
}

/// Waits for a request for `path`; the paths seen before it.
async fn until_path(
    rx: &mut mpsc::UnboundedReceiver<String>,
    path: &str,
    limit: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(p)) if p == path => return before,
            Ok(Some(p)) => before.push(p),
            _ => panic!("no request for {path} within {limit:?}; saw {before:?}"),
        }
    }
}

async fn edits_through_another_connection_are_run_within_seconds(db: TestDb) {
    let (addr, mut requests) = recording_target().await;
    let url = db.url.clone();
    let check = DeclaredCheck {
        name: "edited-elsewhere".into(),
        probe: steward_probes::Probe::Http(steward_probes::Http {
            url: format!("http://{addr}/before"),
            ..Default::default()
        }),
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        retries: 0,
        runbook: String::new(),
    };
    let server = TestServer::start_configured(db, |c| c.declared_checks = vec![check]).await;
    until_path(&mut requests, "/before", Duration::from_secs(5)).await;

    // Another server's store changes the check's target.
    let elsewhere = Store::connect(&url).await.unwrap();
    let mut record = elsewhere
        .checks()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "edited-elsewhere")
        .unwrap();
    record.spec = record.spec.replace("/before", "/after");
    elsewhere.save_check(&record).await.unwrap();
    let edited = Instant::now();
    until_path(&mut requests, "/after", Duration::from_secs(5)).await;
    assert!(edited.elapsed() < Duration::from_secs(5));
    // From then on only the new target is asked (a run already under way may finish).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut later = Vec::new();
    while let Ok(p) = requests.try_recv() {
        later.push(p);
    }
    assert!(later.len() >= 2, "still running every second: {later:?}");
    assert!(later.iter().skip(1).all(|p| p == "/after"), "{later:?}");

    // Deleted there: it stops here.
    elsewhere.delete_check(&record.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    while requests.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(requests.try_recv().is_err(), "a deleted check still runs");
    elsewhere.close().await;
    server.cleanup().await;
}

#[tokio::test]
async fn an_edit_elsewhere_is_run_within_seconds_on_sqlite() {
    edits_through_another_connection_are_run_within_seconds(TestDb::sqlite()).await;
}

#[tokio::test]
async fn an_edit_by_another_server_is_run_within_seconds_on_postgres() {
    match TestDb::postgres().await {
        Some(db) => edits_through_another_connection_are_run_within_seconds(db).await,
        None => eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped"),
    }
}

/// The configuration's checks at start: new ones stored and tracked, unchanged ones left
/// alone (nothing rewritten, the revision unmoved), changed ones replaced, dropped ones
/// removed.
#[tokio::test]
async fn declared_checks_are_synced_writing_only_what_changed() {
    let server = TestServer::sqlite().await;
    // Answering means its own start-up sync (of no checks) is done and cannot undo ours.
    let health = server.http.get(format!("{}/api/v1/health", server.url));
    assert_eq!(health.send().await.unwrap().status().as_u16(), 200);
    let declared = |name: &str, interval: u64| DeclaredCheck {
        name: name.into(),
        probe: steward_probes::Probe::Tcp(steward_probes::Tcp {
            host: "127.0.0.1".into(),
            port: 9,
        }),
        interval: Duration::from_secs(interval),
        timeout: Duration::from_secs(1),
        retries: 0,
        runbook: String::new(),
    };
    let sync = |checks: Vec<DeclaredCheck>| {
        let state = server.state.clone();
        async move {
            steward_server::monitoring::sync_declared(&state, &checks, &[])
                .await
                .unwrap()
        }
    };
    let names = |store: &Store| {
        let store = store.clone();
        async move {
            let mut v: Vec<(String, i64)> = store
                .checks()
                .await
                .unwrap()
                .into_iter()
                // The default device checks are not the configuration's.
                .filter(|c| c.source == "config")
                .map(|c| (c.name, c.interval_ms))
                .collect();
            v.sort();
            v
        }
    };
    sync(vec![declared("a", 60), declared("b", 60)]).await;
    assert_eq!(
        names(&server.store).await,
        [("a".to_string(), 60_000), ("b".to_string(), 60_000)]
    );
    for id in ["config:a", "config:b"] {
        let state = server.store.check_state(id, "").await.unwrap().unwrap();
        // First runs within one interval of now.
        let offset = state.next_run_at.0 - server.now().0;
        assert!((-5_000..60_000).contains(&offset), "{id}: {offset}");
    }
    let revision = server.store.monitoring_revision().await.unwrap();
    let written = server.store.checks().await.unwrap();

    sync(vec![declared("a", 60), declared("b", 60)]).await;
    assert_eq!(server.store.monitoring_revision().await.unwrap(), revision);
    assert_eq!(server.store.checks().await.unwrap(), written, "rewritten");

    sync(vec![declared("a", 30)]).await;
    assert_eq!(names(&server.store).await, [("a".to_string(), 30_000)]);
    assert!(
        server
            .store
            .check_state("config:b", "")
            .await
            .unwrap()
            .is_none()
    );
    assert!(server.store.monitoring_revision().await.unwrap() > revision);
    server.cleanup().await;
}
