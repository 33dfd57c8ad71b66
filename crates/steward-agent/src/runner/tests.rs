use super::queue::{Queued, delta_size, inventory_update};
use super::*;
use steward_core::Package;

/// A collector whose inventory the test changes between runs.
struct FakeCollector(Arc<Mutex<Inventory>>);

impl Collector for FakeCollector {
    fn inventory(&mut self) -> anyhow::Result<Inventory> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn metrics(&mut self) -> Metrics {
        Metrics {
            uptime_secs: 7,
            ..Default::default()
        }
    }
}

fn inv(packages: &[&str]) -> Inventory {
    let mut inv = Inventory {
        hostname: "h".into(),
        packages: packages
            .iter()
            .map(|n| Package {
                name: (*n).into(),
                version: "1".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    inv.normalize();
    inv
}

fn enrolled(dir: &Path) -> AgentState {
    let state = AgentState {
        server_url: "http://127.0.0.1:1".into(), // nothing listens: unreachable
        device_id: "dev".into(),
        credential: "dev.secret".into(),
        checkin_interval_secs: 60,
        next_seq: 1,
        server_cert_pin: None,
    };
    state.save(dir).unwrap();
    state
}

fn core(dir: &Path) -> Core {
    Core {
        dir: dir.to_owned(),
        state: enrolled(dir),
        outbox: Outbox::open(outbox_dir(dir), 100).unwrap(),
        inventory_at: None,
        delivered: false,
        watch: Default::default(),
    }
}

/// The server's inventory after applying `reports` to `start`.
fn replay(start: Option<Inventory>, reports: &[Report]) -> Option<Inventory> {
    reports.iter().fold(start, |state, r| match &r.inventory {
        Some(InventoryUpdate::Full { inventory }) => Some((**inventory).clone()),
        Some(InventoryUpdate::Delta { delta }) => Some(delta.apply(&state.unwrap()).unwrap()),
        None => state,
    })
}

#[test]
fn first_update_is_full_then_deltas() {
    let (a, b) = (inv(&["a"]), inv(&["a", "b"]));
    assert!(matches!(
        inventory_update(None, &a),
        Some(InventoryUpdate::Full { .. })
    ));
    assert_eq!(inventory_update(Some(&a), &a), None);
    let Some(InventoryUpdate::Delta { delta }) = inventory_update(Some(&a), &b) else {
        panic!("expected a delta");
    };
    assert_eq!(delta.apply(&a), Ok(b));
    assert_eq!(delta_size(&delta), 1);
}

#[test]
fn queue_chains_inventory_updates() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core(dir.path());
    let m = || Some(Metrics::default());
    assert_eq!(
        core.queue(m(), None, Sections::default(), Some(inv(&["a"])))
            .unwrap(),
        Queued::Full
    );
    assert_eq!(
        core.queue(m(), None, Sections::default(), Some(inv(&["a"])))
            .unwrap(),
        Queued::Unchanged
    );
    assert_eq!(
        core.queue(None, None, Sections::default(), Some(inv(&["a"])))
            .unwrap(),
        Queued::Unchanged
    );
    assert_eq!(
        core.queue(None, None, Sections::default(), Some(inv(&["b", "c"])))
            .unwrap(),
        Queued::Changes(3)
    );
    let reports = core.outbox.peek_batch(100).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(reports[1].inventory.is_none() && reports[1].metrics.is_some());
    assert_eq!(replay(None, &reports), Some(inv(&["b", "c"])));
    assert_eq!(AgentState::load(dir.path()).unwrap().next_seq, 4);
    assert_eq!(
        state::load_inventory(dir.path()).unwrap(),
        Some(inv(&["b", "c"]))
    );
}

#[test]
fn need_full_inventory_replaces_queued_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core(dir.path());
    let m = || Some(Metrics::default());
    core.queue(m(), None, Sections::default(), Some(inv(&["a"])))
        .unwrap();
    core.queue(m(), None, Sections::default(), Some(inv(&["a", "b"])))
        .unwrap();
    core.queue(m(), None, Sections::default(), Some(inv(&["b"])))
        .unwrap();
    // The server stored report 1 but holds another inventory than the agent thinks.
    let ack = ReportAck {
        acked_seq: 1,
        need_full_inventory: true,
        server_inventory_hash: None,
        watch: None,
        detection: None,
    };
    core.acknowledge(&ack).unwrap();
    core.requeue_full().unwrap();
    let reports = core.outbox.peek_batch(100).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert!(
        reports[..2]
            .iter()
            .all(|r| r.inventory.is_none() && r.metrics.is_some())
    );
    assert_eq!(replay(Some(inv(&["zzz"])), &reports), Some(inv(&["b"])));
    // The next delta builds on the full inventory just queued.
    assert_eq!(
        core.queue(None, None, Sections::default(), Some(inv(&["c"])))
            .unwrap(),
        Queued::Changes(2)
    );
    let reports = core.outbox.peek_batch(100).unwrap();
    assert_eq!(replay(Some(inv(&["zzz"])), &reports), Some(inv(&["c"])));
}

#[test]
fn ack_beyond_local_sequence_skips_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = core(dir.path());
    let ack = ReportAck {
        acked_seq: 41,
        need_full_inventory: false,
        server_inventory_hash: None,
        watch: None,
        detection: None,
    };
    core.acknowledge(&ack).unwrap();
    core.queue(Some(Metrics::default()), None, Sections::default(), None)
        .unwrap();
    assert_eq!(core.outbox.last_seq(), Some(42));
    assert_eq!(AgentState::load(dir.path()).unwrap().next_seq, 43);
}

/// Resolves once the outbox holds `n` reports (or after 20 s, failing the test later).
async fn outbox_holds(dir: PathBuf, n: usize) {
    for _ in 0..400 {
        let count = std::fs::read_dir(outbox_dir(&dir))
            .map(|d| d.filter(|e| e.is_ok()).count())
            .unwrap_or(0);
        if count >= n && state::load_inventory(&dir).unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn run_queues_reports_while_the_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    enrolled(dir.path());
    let shared = Arc::new(Mutex::new(inv(&["a"])));
    let mut config = AgentConfig::new(dir.path());
    // About the queue, not posture: no checks run commands while the agent stops and starts
    // (a command forked at that moment holds a copy of the state lock until it execs).
    config.posture = None;
    let stop = outbox_holds(dir.path().to_owned(), 1);
    run(
        config.clone(),
        Box::new(FakeCollector(shared.clone())),
        stop,
    )
    .await
    .unwrap();

    *shared.lock().unwrap() = inv(&["a", "b"]);
    // The first run's report and its stopping report, then the second run's report.
    let stop = outbox_holds(dir.path().to_owned(), 3);
    run(config, Box::new(FakeCollector(shared)), stop)
        .await
        .unwrap();

    let outbox = Outbox::open(outbox_dir(dir.path()), 100).unwrap();
    let all = outbox.peek_batch(100).unwrap();
    // Each run ended with a stopping report, kept for the next delivery.
    let stopping: Vec<bool> = all.iter().map(|r| r.stopping).collect();
    assert_eq!(stopping, [false, true, false, true]);
    let reports: Vec<Report> = all.into_iter().filter(|r| !r.stopping).collect();
    assert_eq!(reports.len(), 2);
    assert!(matches!(
        reports[0].inventory,
        Some(InventoryUpdate::Full { .. })
    ));
    assert!(matches!(
        reports[1].inventory,
        Some(InventoryUpdate::Delta { .. })
    ));
    assert_eq!(reports[1].metrics.as_ref().unwrap().uptime_secs, 7);
    assert_eq!(replay(None, &reports), Some(inv(&["a", "b"])));
}

/// A stopping agent's last report says so and nothing else.
#[tokio::test]
async fn a_stopped_agent_says_so_in_its_last_report() {
    let dir = tempfile::tempdir().unwrap();
    enrolled(dir.path());
    let mut config = AgentConfig::new(dir.path());
    config.posture = None;
    let stop = outbox_holds(dir.path().to_owned(), 1);
    let collector = Box::new(FakeCollector(Arc::new(Mutex::new(inv(&["a"])))));
    run(config, collector, stop).await.unwrap();
    let reports = Outbox::open(outbox_dir(dir.path()), 100)
        .unwrap()
        .peek_batch(100)
        .unwrap();
    let last = reports.last().unwrap();
    assert!(last.stopping);
    assert!(last.metrics.is_none() && last.inventory.is_none() && last.detections.is_empty());
    assert!(reports[..reports.len() - 1].iter().all(|r| !r.stopping));
}

/// A server that takes connections and never answers: the stopping agent waits at most
/// [`STOPPING_WITHIN`] for it, not for ever.
#[tokio::test]
async fn the_stopping_report_waits_for_a_silent_server_three_seconds_at_most() {
    let dir = tempfile::tempdir().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut state = enrolled(dir.path());
    state.server_url = format!("http://{}", silent.local_addr().unwrap());
    state.save(dir.path()).unwrap();
    // Held open (and never read) for the whole test.
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(8).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(conns);
    });
    let mut config = AgentConfig::new(dir.path());
    config.posture = None;
    let collector = Box::new(FakeCollector(Arc::new(Mutex::new(inv(&["a"])))));
    let stopped_at = Arc::new(Mutex::new(None));
    let at = stopped_at.clone();
    let stop = async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        *at.lock().unwrap() = Some(std::time::Instant::now());
    };
    run(config, collector, stop).await.unwrap();
    let waited = stopped_at.lock().unwrap().unwrap().elapsed();
    assert!(
        waited <= STOPPING_WITHIN + Duration::from_secs(1),
        "{waited:?}"
    );
    let reports = Outbox::open(outbox_dir(dir.path()), 100)
        .unwrap()
        .peek_batch(100)
        .unwrap();
    assert!(reports.last().unwrap().stopping, "kept for the next start");
    drop(held);
}

#[tokio::test]
async fn enroll_refuses_when_already_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    enrolled(dir.path());
    let err = enroll(dir.path(), "http://127.0.0.1:1", "tok", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already enrolled"), "{err}");
}

#[tokio::test]
async fn enroll_reports_an_unreachable_server() {
    let dir = tempfile::tempdir().unwrap();
    let err = enroll(dir.path(), "http://127.0.0.1:1", "tok", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("could not reach"), "{err}");
    assert!(!AgentState::exists(dir.path()));
}
