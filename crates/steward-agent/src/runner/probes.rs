//! The network monitors this agent runs for the server (a probe of something only this
//! site's network reaches). The server names them in the watch list it sends with a
//! report's acknowledgement; each runs at its interval on a task of its own, and what each
//! run found waits here for the next check-in, which carries it in its observations — so
//! results found while the server is out of reach are delivered later, not lost (at most
//! `MAX_PROBE_RESULTS` are held, the newest kept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use steward_core::alerting::CheckStatus;
use steward_core::checks::remote::{
    MAX_PROBE_RESULTS, MIN_PROBE_INTERVAL_SECS, ProbeOrder, ProbeResult,
};
use tokio::sync::watch;
use tokio::time::Instant;

/// The probe runner's handle.
pub(super) struct Probes {
    orders: watch::Sender<Vec<ProbeOrder>>,
    results: Arc<Mutex<Vec<ProbeResult>>>,
}

impl Probes {
    /// Starts the runner on the current runtime; it stops when the handle is dropped.
    pub(super) fn spawn() -> Probes {
        let (orders, rx) = watch::channel(Vec::new());
        let results = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(run(rx, Arc::clone(&results)));
        Probes { orders, results }
    }

    /// Runs these probes from now on (the others stop).
    pub(super) fn set_orders(&self, orders: &[ProbeOrder]) {
        self.orders.send_if_modified(|held| {
            let changed = held.as_slice() != orders;
            if changed {
                tracing::info!(
                    probes = orders.len(),
                    "the server changed the probes this agent runs"
                );
                *held = orders.to_vec();
            }
            changed
        });
    }

    /// What the probes found since the last call, oldest first.
    pub(super) fn take_results(&self) -> Vec<ProbeResult> {
        std::mem::take(&mut *self.results.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

async fn run(mut orders: watch::Receiver<Vec<ProbeOrder>>, results: Arc<Mutex<Vec<ProbeResult>>>) {
    // Made when the first probe is due: most agents run none, and the client (its TLS
    // roots among the rest) is memory the resident agent would hold for nothing.
    let mut client: Option<reqwest::Client> = None;
    let mut next_due: HashMap<String, Instant> = HashMap::new();
    loop {
        let current = orders.borrow_and_update().clone();
        next_due.retain(|id, _| current.iter().any(|o| &o.check_id == id));
        let now = Instant::now();
        for order in current {
            if next_due.get(&order.check_id).is_some_and(|due| *due > now) {
                continue;
            }
            let every =
                Duration::from_secs(u64::from(order.interval_secs.max(MIN_PROBE_INTERVAL_SECS)));
            next_due.insert(order.check_id.clone(), now + every);
            let client = match &client {
                Some(c) => c.clone(),
                None => match steward_probes::client() {
                    Ok(c) => client.insert(c).clone(),
                    Err(e) => {
                        tracing::error!(error = %e, "no HTTP client for probes; the server's probes do not run here");
                        return;
                    }
                },
            };
            let results = Arc::clone(&results);
            tokio::spawn(async move {
                let found = run_one(&order, &client).await;
                let mut held = results.lock().unwrap_or_else(PoisonError::into_inner);
                held.push(found);
                let excess = held.len().saturating_sub(MAX_PROBE_RESULTS);
                held.drain(..excess);
            });
        }
        // Until the next probe is due or the orders change; with no probes, only the
        // latter: an agent that runs none does not wake up for them.
        let next = next_due.values().min().copied();
        tokio::select! {
            changed = orders.changed() => if changed.is_err() { return },
            () = sleep_until_due(next) => {}
        }
    }
}

async fn sleep_until_due(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn run_one(order: &ProbeOrder, client: &reqwest::Client) -> ProbeResult {
    let (status, summary) = match serde_json::from_str::<steward_probes::Probe>(&order.probe) {
        Ok(probe) => {
            let timeout = Duration::from_millis(order.timeout_ms.clamp(100, 300_000));
            let outcome = steward_probes::run(&probe, client, timeout).await;
            (outcome.status, outcome.summary)
        }
        // A probe kind this agent does not know (an older agent): unknown, never critical.
        Err(e) => (
            CheckStatus::Unknown,
            format!("this agent cannot run the probe: {e}"),
        ),
    };
    ProbeResult {
        check_id: order.check_id.clone(),
        status,
        summary,
        at: super::now(),
    }
}
