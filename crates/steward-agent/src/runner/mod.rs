//! The agent's main loops: enrollment, periodic check-ins, and jobs.
//!
//! - Check-in loop, every check-in interval: collect metrics (and the inventory every
//!   `inventory_every`), queue one report in the outbox, then flush the outbox to the server.
//! - Job loop, in parallel: long-poll the server for a job, hand it to the executor of its
//!   kind ([`jobs`]), report the result. Jobs run concurrently within limits; the loop
//!   starts after the first check-in, so the server knows which kinds this agent runs
//!   before it hands any out.
//!
//! Inventory updates form a chain: the first report carries the full inventory, each later
//! one a delta against the last inventory *queued* (`inventory.json`), so the chain is
//! unbroken as long as the server applies the queued reports in order. When it cannot (the
//! ack says `need_full_inventory`), every queued delta is useless to it: they are stripped
//! from the queue (their metrics stay) and a full copy of the last queued inventory is
//! queued after them. That takes the server straight to the agent's current state without
//! having to rebuild intermediate inventories.
//!
//! Collection is blocking work and runs on tokio's blocking pool; everything else is a few
//! timers and sockets, so a current-thread runtime is enough. On shutdown both loops and
//! every running job are dropped at their next await point; every queue change is already
//! on disk.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use steward_core::checks::{Observations, Watch};
use steward_core::posture::PostureReport;
use steward_core::{Inventory, InventoryDelta, JobState, Metrics, Timestamp};
use steward_proto::agent::{
    Capabilities, InventoryUpdate, JobAssignment, JobUpdate, Report, ReportAck, ReportBatch,
    UpdatesReport, report_section,
};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

use crate::client::{Backoff, Client, ClientError, Health};
use crate::collect::Collector;
use crate::outbox::Outbox;
use crate::state::{self, AgentState, StateLock};

mod builtin;
mod detection;
mod enroll;
pub mod jobs;
mod periodic;
mod probes;
mod queue;

#[cfg(target_os = "linux")]
pub use detection::DetectionConfig;
#[cfg(not(target_os = "linux"))]
use detection::DetectionFeedStub;
#[cfg(target_os = "linux")]
use detection::start_engine;
pub use enroll::enroll;
pub use jobs::{BoxFuture, JobContext, JobExecutor, JobExecutors, JobOutcome};
use queue::{Core, Sections};

pub const DEFAULT_INVENTORY_EVERY: Duration = Duration::from_secs(15 * 60);
/// A day of reports at the default 60 s interval; older ones are summarised.
pub const OUTBOX_MAX_REPORTS: usize = 1440;
const BATCH_SIZE: usize = 100;
const JOB_WAIT_SECS: u64 = 25;
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two job polls, in case a server answers 204 without waiting.
const MIN_POLL_SPACING: Duration = Duration::from_secs(2);
/// Times a failed job result is re-sent before giving up (the server expires the job).
const JOB_RESULT_ATTEMPTS: u32 = 5;
/// Jobs held at once by default: enough for a long job of each of a few kinds beside the
/// quick ones, few enough that a burst of jobs cannot swamp the machine.
pub const DEFAULT_MAX_CONCURRENT_JOBS: usize = 4;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub state_dir: PathBuf,
    /// How often the inventory is collected (it also is on start and on request).
    pub inventory_every: Duration,
    /// Check-in interval; the server's (from enrollment) when `None`.
    pub interval: Option<Duration>,
    /// The job kinds this agent runs (and advertises): the built-in ones unless changed.
    pub executors: JobExecutors,
    /// Most jobs held at once, running or waiting for their kind's turn; the agent asks
    /// the server for no more while it holds this many.
    pub max_concurrent_jobs: usize,
    /// Security posture checks, run at start and every so often; `None`: not run.
    pub posture: Option<crate::posture::PostureConfig>,
    /// Pending updates, listed at start and every so often; `None`: not listed.
    pub updates: Option<UpdatesConfig>,
    /// Ransomware detection on this device; `None`: off.
    #[cfg(target_os = "linux")]
    pub detection: Option<DetectionConfig>,
    /// Hand the kernel back the freed heap and the code pages a burst of work left behind,
    /// after each check-in that followed one ([`crate::residency`]; with detection on, its
    /// response path is rehearsed back in at once, [`crate::detection::rehearsal`]).
    /// For an agent that has its process to itself (`steward agent run`), not one beside a
    /// server (`steward up`).
    pub release_idle_memory: bool,
}

/// How the agent lists pending updates by itself.
#[derive(Clone)]
pub struct UpdatesConfig {
    /// Zero: never by itself (the `list_updates` and `install_updates` jobs still list).
    pub every: Duration,
    /// Shared with the `list_updates` and `install_updates` executors.
    pub feed: Arc<crate::updates::UpdatesFeed>,
}

impl std::fmt::Debug for UpdatesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdatesConfig")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// How often pending updates are listed by default: four times a day, so the age of a
/// pending security update is known to within hours.
pub const DEFAULT_UPDATES_EVERY: Duration = Duration::from_secs(6 * 3600);

impl AgentConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> AgentConfig {
        AgentConfig {
            state_dir: state_dir.into(),
            inventory_every: DEFAULT_INVENTORY_EVERY,
            interval: None,
            executors: JobExecutors::with_builtins(),
            max_concurrent_jobs: DEFAULT_MAX_CONCURRENT_JOBS,
            posture: Some(crate::posture::PostureConfig::default()),
            updates: None,
            #[cfg(target_os = "linux")]
            detection: None,
            release_idle_memory: false,
        }
    }

    /// Lists updates with this machine's package manager every [`DEFAULT_UPDATES_EVERY`]
    /// and registers the `list_updates` and `install_updates` executors. Nothing changes on
    /// a machine with no package manager Steward knows.
    pub fn with_this_machines_updates(mut self) -> AgentConfig {
        if let Some(manager) = crate::updates::this_machine() {
            self.set_updates(crate::updates::UpdatesFeed::new(manager));
        }
        self
    }

    /// Lists updates through `feed` and runs the update jobs with it.
    pub fn set_updates(&mut self, feed: Arc<crate::updates::UpdatesFeed>) {
        self.executors
            .register(crate::updates::ListUpdatesExecutor::new(feed.clone()))
            .register(crate::updates::InstallUpdatesExecutor::new(feed.clone()));
        self.updates = Some(UpdatesConfig {
            every: DEFAULT_UPDATES_EVERY,
            feed,
        });
    }
}

/// Runs the agent until `shutdown` resolves. Errors only if it cannot start (not enrolled,
/// state unreadable, another agent running); later failures are logged and retried.
pub async fn run(
    config: AgentConfig,
    collector: Box<dyn Collector>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let dir = config.state_dir.clone();
    let state = AgentState::load(&dir)?;
    let _lock = StateLock::acquire(&dir)?;
    let client = Client::new(
        &state.server_url,
        Some(state.credential.clone()),
        state.server_cert_pin,
    )?;
    if state.server_url.starts_with("https://") && state.server_cert_pin.is_none() {
        tracing::warn!(server = %state.server_url,
            "no pinned server certificate (enrolled before pinning existed): trusting the \
             system's certificate authorities; enroll again to pin the server's certificate");
    }
    let outbox = Outbox::open(outbox_dir(&dir), OUTBOX_MAX_REPORTS)?;
    let interval = config
        .interval
        .unwrap_or(Duration::from_secs(state.checkin_interval_secs))
        .max(MIN_INTERVAL);
    tracing::info!(device_id = %state.device_id, server = %state.server_url,
        interval_secs = interval.as_secs(), queued = outbox.len(), "agent started");
    let mut report_sections = vec![
        report_section::INVENTORY.to_owned(),
        report_section::METRICS.to_owned(),
        report_section::OBSERVATIONS.to_owned(),
    ];
    if config.posture.is_some() {
        report_sections.push(report_section::POSTURE.to_owned());
    }
    if config.updates.is_some() {
        report_sections.push(report_section::UPDATES.to_owned());
    }
    #[cfg(target_os = "linux")]
    let (detection, _engine) = match &config.detection {
        Some(d) => {
            report_sections.push(report_section::DETECTIONS.to_owned());
            (Some(d.feed.clone()), start_engine(d))
        }
        None => (None, None),
    };
    #[cfg(not(target_os = "linux"))]
    let detection: Option<Arc<DetectionFeedStub>> = None;
    // `scripts_allowed` is read from the device's file at each delivery (`flush`).
    let capabilities = Capabilities {
        job_kinds: config.executors.kinds(),
        report_sections,
        scripts_allowed: false,
    };
    tracing::info!(job_kinds = ?capabilities.job_kinds, "job executors registered");
    let kind_slots = config
        .executors
        .iter()
        .map(|(kind, e)| {
            (
                kind.clone(),
                Arc::new(Semaphore::new(e.max_concurrent().max(1))),
            )
        })
        .collect();
    let (checked_in, first_checkin) = watch::channel(false);
    let agent = Arc::new(Agent {
        client,
        collector: Arc::new(Mutex::new(collector)),
        inventory_every: config.inventory_every,
        state_dir: dir.clone(),
        core: tokio::sync::Mutex::new(Core {
            dir,
            state,
            outbox,
            inventory_at: None,
            delivered: false,
            watch: Watch::default(),
        }),
        capabilities,
        executors: config.executors,
        job_slots: Arc::new(Semaphore::new(config.max_concurrent_jobs.max(1))),
        kind_slots,
        checked_in,
        probes: probes::Probes::spawn(),
        posture_ready: Mutex::new(None),
        updates: config.updates.as_ref().map(|u| u.feed.clone()),
        detection,
        release_idle_memory: config.release_idle_memory,
        // Start-up is the first burst.
        burst_done: AtomicBool::new(true),
    });
    let stopping = tokio::select! {
        () = shutdown => {
            tracing::info!("agent stopping");
            true
        }
        () = agent.checkin_loop(interval) => false,
        () = agent.job_loop(first_checkin) => false,
        () = agent.posture_loop(config.posture) => false,
        () = agent.updates_loop(config.updates) => false,
        () = agent.detection_loop() => false,
        () = agent.logins_loop() => false,
    };
    if stopping {
        agent.say_stopping(STOPPING_WITHIN).await;
    }
    Ok(())
}

/// How long a stopping agent tries to deliver its last report (a service manager waits
/// longer than this before it kills the agent: systemd's default is 90 s).
pub const STOPPING_WITHIN: Duration = Duration::from_secs(3);

fn outbox_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("outbox")
}

struct Agent {
    client: Client,
    collector: Arc<Mutex<Box<dyn Collector>>>,
    inventory_every: Duration,
    state_dir: PathBuf,
    /// Queue and sequence numbers, shared by both loops; held across a flush.
    core: tokio::sync::Mutex<Core>,
    /// Sent with every delivery.
    capabilities: Capabilities,
    executors: JobExecutors,
    /// One per job held (running or waiting for its kind's turn).
    job_slots: Arc<Semaphore>,
    /// Per kind: one per job of that kind running.
    kind_slots: HashMap<String, Arc<Semaphore>>,
    /// Set once the first check-in has been attempted.
    checked_in: watch::Sender<bool>,
    /// The network monitors this agent runs for the server.
    probes: probes::Probes,
    /// The latest posture evaluation, until a check-in queues it.
    posture_ready: Mutex<Option<PostureReport>>,
    /// Where the latest listing of pending updates waits for a check-in.
    updates: Option<Arc<crate::updates::UpdatesFeed>>,
    /// Where detections wait for a report, and the policy goes to the engine.
    #[cfg(target_os = "linux")]
    detection: Option<Arc<crate::detection::DetectionFeed>>,
    #[cfg(not(target_os = "linux"))]
    detection: Option<Arc<DetectionFeedStub>>,
    /// From the configuration: see [`AgentConfig::release_idle_memory`].
    release_idle_memory: bool,
    /// Set by infrequent work (start-up, an inventory, posture, updates, a job): its
    /// memory is handed back after the next check-in.
    burst_done: AtomicBool,
}

/// Whether the device's own configuration allows scripts, as the agent advertises it (the
/// `run_script` executor reads the file again at every run). An unreadable setting is no.
#[cfg(unix)]
fn scripts_allowed(dir: &Path) -> bool {
    crate::scripts::ScriptPolicy::load(dir).is_ok_and(|p| p.allow_scripts)
}

#[cfg(not(unix))]
fn scripts_allowed(_: &Path) -> bool {
    false
}

/// Whether everything queued reached the server.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Done,
    Pending,
}

impl Agent {
    async fn checkin_loop(&self, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut health = Health::new("reports");
        loop {
            ticker.tick().await;
            if let Err(e) = self.checkin(&mut health).await {
                tracing::error!(error = format!("{e:#}"), "check-in failed");
            }
            self.checked_in.send_replace(true);
            if self.burst_done.swap(false, Ordering::Relaxed) {
                self.release_idle_memory().await;
            }
        }
    }

    /// After a burst of work, once the check-in that carries it was made (delivered or
    /// not): see [`crate::residency`].
    async fn release_idle_memory(&self) {
        #[cfg(target_os = "linux")]
        if self.release_idle_memory {
            // With detection on, its verdict and stop path is rehearsed at once, so it is
            // not read back from disk during an attack (see `detection::rehearsal`).
            let feed = self.detection.clone();
            crate::residency::release_off_the_workers(move || {
                if let Some(feed) = feed {
                    let rehearsed = crate::detection::rehearsal::rehearse(&feed);
                    tracing::debug!(?rehearsed, "rehearsed the detection engine's response");
                }
            })
            .await;
        }
    }

    async fn checkin(&self, health: &mut Health) -> anyhow::Result<()> {
        let (want_inventory, watch) = {
            let core = self.core.lock().await;
            (core.inventory_due(self.inventory_every), core.watch.clone())
        };
        let (metrics, mut observations, inventory) = self
            .with_collector(move |c| {
                (
                    c.metrics(),
                    c.observe(&watch),
                    want_inventory.then(|| c.inventory()),
                )
            })
            .await?;
        let inventory = match inventory {
            Some(Err(e)) => {
                tracing::warn!(error = format!("{e:#}"), "collecting the inventory failed");
                None
            }
            Some(Ok(inv)) => Some(inv),
            None => None,
        };
        observations.probes = self.probes.take_results();
        let posture = self
            .posture_ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let updates = self.updates.as_ref().and_then(|feed| feed.take());
        if want_inventory || posture.is_some() || updates.is_some() {
            self.burst_done.store(true, Ordering::Relaxed);
        }
        let detections = self.take_detections();
        let mut core = self.core.lock().await;
        if want_inventory {
            core.inventory_at = Some(Instant::now());
        }
        core.queue(
            Some(metrics),
            Some(observations),
            Sections {
                posture,
                updates,
                detections,
            },
            inventory,
        )?;
        let flushed = self.flush(&mut core, health).await;
        // The acknowledgement may have brought a new watch list, and with it new probes.
        self.probes.set_orders(&core.watch.probes);
        flushed?;
        Ok(())
    }

    /// Takes jobs while a job slot is free and runs each on a task of its own. Waits for
    /// the first check-in: it carries the kinds this agent runs, and a job claimed before
    /// the server knew them might be refused (or handed over) by an older statement.
    async fn job_loop(self: &Arc<Self>, mut first_checkin: watch::Receiver<bool>) {
        if first_checkin.wait_for(|done| *done).await.is_err() {
            return;
        }
        let mut health = Health::new("jobs");
        let mut backoff = Backoff::default();
        // Dropped with the loop at shutdown, which stops every job still running.
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            // Ask for work only when it can be taken on: a job left queued on the server is
            // one another replica or a later poll can still hand out in time.
            let Ok(slot) = Arc::clone(&self.job_slots).acquire_owned().await else {
                return;
            };
            let started = Instant::now();
            match health.record(self.client.next_job(JOB_WAIT_SECS).await) {
                Ok(Some(job)) => {
                    backoff.reset();
                    let agent = Arc::clone(self);
                    running.spawn(async move {
                        agent.run_job(job).await;
                        drop(slot);
                    });
                }
                Ok(None) => {
                    drop(slot);
                    backoff.reset();
                    tokio::time::sleep_until(started + MIN_POLL_SPACING).await;
                }
                Err(_) => {
                    drop(slot);
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn run_job(self: Arc<Self>, job: JobAssignment) {
        let kind = job.kind.as_str().to_owned();
        tracing::info!(job = %job.id, %kind, "job received");
        let (Some(executor), Some(kind_slot)) =
            (self.executors.get(&kind), self.kind_slots.get(&kind))
        else {
            // A kind this agent does not run: a newer server's, or one it did not list.
            let message = format!(
                "unsupported: this agent does not run {kind} jobs (it runs: {})",
                self.capabilities.job_kinds.join(", ")
            );
            tracing::warn!(job = %job.id, %kind, "job of a kind this agent does not run");
            self.report(&job.id, JobOutcome::unsupported(message).into_update())
                .await;
            return;
        };
        // Reported at once, even when the job must wait for its kind's turn: the server
        // expires a job it handed out and heard nothing about as one whose agent vanished.
        let waiting = kind_slot.available_permits() == 0;
        let note = if waiting {
            format!("waiting for another {kind} job on this agent to finish")
        } else {
            String::new()
        };
        let mut health = Health::new("jobs");
        if let Err(e) = health.record(
            self.client
                .update_job(&job.id, &update(JobState::Running, note))
                .await,
        ) {
            tracing::debug!(job = %job.id, error = %e, "could not report the job as running");
        }
        let Ok(_turn) = Arc::clone(kind_slot).acquire_owned().await else {
            return;
        };
        let id = job.id.clone();
        let ctx = JobContext {
            job_id: id.clone(),
            agent: Arc::clone(&self),
        };
        // On a task of its own, so a panicking executor is a failed job, not a lost one;
        // in a set, so stopping this job (at shutdown) stops it too.
        let mut task = JoinSet::new();
        task.spawn(async move { executor.run(ctx, job).await });
        let outcome = match task.join_next().await {
            Some(Ok(outcome)) => outcome,
            Some(Err(e)) => JobOutcome::failed(format!("the {kind} executor crashed: {e}")),
            None => JobOutcome::failed(format!("the {kind} executor did not run")),
        };
        let done = outcome.into_update();
        tracing::info!(job = %id, state = done.state.as_str(), message = %done.message, "job finished");
        self.report(&id, done).await;
        self.burst_done.store(true, Ordering::Relaxed);
    }

    /// Reports a job's result, retrying while the server is unreachable. A server too old
    /// to know `unsupported` refuses that state: the job is then reported `failed` with the
    /// same message. A refused credential is retried too: a credential rotation running
    /// beside this job may have replaced it between this request's start and its arrival.
    async fn report(&self, job_id: &str, mut done: JobUpdate) {
        let mut health = Health::new("jobs");
        let mut backoff = Backoff::default();
        for attempt in 1..=JOB_RESULT_ATTEMPTS {
            match health.record(self.client.update_job(job_id, &done).await) {
                Ok(()) => return,
                Err(ClientError::Rejected {
                    status: 400 | 422, ..
                }) if done.state == JobState::Unsupported => {
                    done.state = JobState::Failed;
                }
                Err(ClientError::Unreachable(_) | ClientError::Unauthorized(_))
                    if attempt < JOB_RESULT_ATTEMPTS =>
                {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "could not report the job's result");
                    return;
                }
            }
        }
    }

    /// The `collect_inventory` job: collect, queue, deliver at once.
    async fn collect_inventory_now(&self, health: &mut Health) -> anyhow::Result<String> {
        let inventory = self.with_collector(|c| c.inventory()).await??;
        let packages = inventory.packages.len();
        let mut core = self.core.lock().await;
        core.inventory_at = Some(Instant::now());
        let queued = core.queue(None, None, Sections::default(), Some(inventory))?;
        let delivery = self.flush(&mut core, health).await?;
        let mut message = format!("inventory collected: {packages} packages, {queued}");
        if delivery == Delivery::Pending {
            message.push_str(" (queued: the server has not acknowledged it yet)");
        }
        Ok(message)
    }

    /// The `rotate_credential` job: get a new credential, store it, use it. The server keeps
    /// the old one working until the new one is first used, so failing anywhere here (no
    /// answer, a full disk, a crash) leaves the agent with a credential that works.
    async fn rotate_credential(&self, job_id: &str, health: &mut Health) -> anyhow::Result<String> {
        // The queue lock keeps reports from being sent, and the state file from being
        // rewritten with the old credential, while it changes.
        let mut core = self.core.lock().await;
        let issued = health
            .record(self.client.rotate_credential(job_id).await)
            .map_err(|e| anyhow::anyhow!("asking the server for a new credential: {e}"))?;
        anyhow::ensure!(
            issued
                .credential
                .strip_prefix(core.state.device_id.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            "the server issued a credential for another device; keeping the current one"
        );
        let mut next = core.state.clone();
        next.credential = issued.credential;
        next.save(&core.dir)
            .context("storing the new credential (the current one stays in use)")?;
        self.client.set_credential(&next.credential)?;
        core.state = next;
        tracing::info!("credential rotated");
        Ok(
            "credential rotated: the previous one stops working at this agent's next request"
                .into(),
        )
    }

    /// Queues a last small report saying the agent is stopping on purpose (not when the
    /// machine itself is shutting down), and tries to deliver it (with whatever is still
    /// queued) within `within`. The server tells a stopped agent from a machine that lost
    /// power by it. Undelivered, it stays queued and goes with the next start's first
    /// delivery.
    async fn say_stopping(&self, within: Duration) {
        if crate::shutdown::machine_shutting_down_off_the_workers().await {
            // Its silence is the machine's, not a stopped agent's (see `shutdown`).
            tracing::info!("the machine is shutting down; not saying the agent stops");
            return;
        }
        let said = tokio::time::timeout(within, async {
            let mut core = self.core.lock().await;
            core.push_stopping()?;
            let mut health = Health::new("reports");
            self.flush(&mut core, &mut health).await
        })
        .await;
        match said {
            Ok(Ok(Delivery::Done)) => tracing::info!("told the server the agent is stopping"),
            Ok(Ok(Delivery::Pending)) => {
                tracing::info!("the server did not take the stopping report; it stays queued")
            }
            Ok(Err(e)) => tracing::warn!(error = format!("{e:#}"), "the stopping report failed"),
            Err(_) => tracing::info!(
                within_secs = within.as_secs(),
                "the server did not answer in time; the stopping report stays queued"
            ),
        }
    }

    /// Sends the outbox, oldest first, until it is empty or the server stops accepting.
    async fn flush(&self, core: &mut Core, health: &mut Health) -> anyhow::Result<Delivery> {
        let mut full_requests = 0;
        let mut repaired = false;
        let mut batch_size = BATCH_SIZE;
        loop {
            let reports = core.outbox.peek_batch(batch_size)?;
            let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
                return Ok(Delivery::Done);
            };
            let (first, last) = (first.seq, last.seq);
            let batch = ReportBatch {
                reports,
                capabilities: Some(Capabilities {
                    // Read again at every delivery (a small file): a change someone made on
                    // the device shows in the console at the next check-in.
                    scripts_allowed: scripts_allowed(&self.state_dir),
                    ..self.capabilities.clone()
                }),
            };
            let sent = self.client.send_reports(&batch).await;
            if matches!(sent, Err(ClientError::Rejected { status: 413, .. })) && batch_size > 1 {
                // Too large for one delivery (a full inventory among many reports): fewer
                // at a time. One report always fits (the inventory is clamped to fit).
                batch_size = (batch.reports.len() / 2).max(1);
                continue;
            }
            if matches!(sent, Err(ClientError::Rejected { status: 400, .. })) && !repaired {
                // Refused as malformed: a queue no retry would ever get through. Repair it
                // once and try again; a second refusal waits for the next check-in.
                repaired = true;
                core.repair()?;
                continue;
            }
            let Ok(ack) = health.record(sent) else {
                return Ok(Delivery::Pending);
            };
            drop(batch);
            if !core.delivered {
                core.delivered = true;
                tracing::info!(acked_seq = ack.acked_seq, "reports delivered to the server");
            }
            core.acknowledge(&ack)?;
            #[cfg(target_os = "linux")]
            if let (Some(policy), Some(feed)) = (&ack.detection, &self.detection) {
                feed.set_policy(policy.clone());
            }
            if ack.need_full_inventory {
                full_requests += 1;
                if full_requests > 2 {
                    tracing::warn!(
                        "the server keeps refusing the inventory; retrying at the next check-in"
                    );
                    return Ok(Delivery::Pending);
                }
                tracing::info!("the server asked for a full inventory");
                core.requeue_full()?;
            } else if ack.acked_seq < first {
                tracing::warn!(
                    sent_from = first,
                    sent_to = last,
                    acked_seq = ack.acked_seq,
                    "the server stored none of the reports; retrying at the next check-in"
                );
                return Ok(Delivery::Pending);
            }
        }
    }

    /// Runs `f` on the collector in the blocking pool.
    async fn with_collector<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Collector) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let collector = Arc::clone(&self.collector);
        tokio::task::spawn_blocking(move || {
            let mut guard = collector.lock().unwrap_or_else(PoisonError::into_inner);
            f(guard.as_mut())
        })
        .await
        .context("the collector crashed")
    }
}

fn update(state: JobState, message: String) -> JobUpdate {
    JobUpdate {
        state,
        message,
        output: String::new(),
    }
}

/// The wall clock as a [`Timestamp`]: what the agent stamps reports, listings and
/// signature checks with.
pub(crate) fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
