//! The `ransomware_drill` job: a scratch folder of the agent's own filled with the
//! simulator's documents, watched by the detection engine, attacked by `steward agent
//! simulate-attack` as a child process; the result says how long detection took and how
//! many files were lost before the engine stopped the attack.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_core::detection::drill::DrillRun;
use steward_detect::simulate::{self, Mode};
use steward_proto::agent::JobAssignment;
use steward_proto::detection::{DrillParams, MAX_DRILL_FILES};

use crate::detection::{DetectionFeed, DrillWatch};
use crate::runner::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// How long the engine may take to watch the scratch folder.
const WATCH_WITHIN: Duration = Duration::from_secs(10);
/// How long the attack may run undetected before the drill calls it missed.
const ATTACK_WITHIN: Duration = Duration::from_secs(120);

/// Runs ransomware drills.
pub struct DrillExecutor {
    feed: Arc<DetectionFeed>,
    /// `steward agent simulate-attack` of this binary.
    program: Vec<OsString>,
}

impl DrillExecutor {
    pub fn new(feed: Arc<DetectionFeed>, program: Vec<OsString>) -> DrillExecutor {
        DrillExecutor { feed, program }
    }

    async fn drill(
        &self,
        job_id: &str,
        state_dir: &Path,
        params: DrillParams,
    ) -> anyhow::Result<DrillRun> {
        let mode = Mode::parse(&params.mode)
            .ok_or_else(|| anyhow::anyhow!("no simulated attack is called {:?}", params.mode))?;
        let files = params.files.clamp(10, MAX_DRILL_FILES) as usize;
        let scratch = state_dir.join("drills").join(job_id);
        let _cleanup = RemoveOnDrop(scratch.clone());
        let root = scratch.clone();
        let seed = rand::random::<u64>();
        let manifest = tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(&root);
            simulate::generate(&root, files, seed)
        })
        .await??;

        let (tell, verdicts) = std::sync::mpsc::channel();
        let version = self.feed.start_drill(DrillWatch {
            job: job_id.to_string(),
            dir: scratch.clone(),
            verdicts: tell,
        });
        let _watch = EndDrillOnDrop(self.feed.clone(), job_id.to_string());
        let asked = Instant::now();
        while !self.feed.applied(version) {
            if asked.elapsed() > WATCH_WITHIN {
                anyhow::bail!(
                    "the detection engine did not start watching the drill's folder within 10 s \
                     (is detection running on this device? see the agent's log)"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let (exe, args) = self
            .program
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("no program to run the simulated attack with"))?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(exe)
            .args(args)
            .arg("--dir")
            .arg(&scratch)
            .arg("--mode")
            .arg(mode.as_str())
            .arg("--key")
            .arg(seed.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let group = child.id().and_then(crate::process_group::group_of);
        let mut detection = None;
        loop {
            if let Ok((seen, detected)) = verdicts.try_recv() {
                detection = Some((seen, detected));
                break;
            }
            if child.try_wait()?.is_some() || started.elapsed() > ATTACK_WITHIN {
                // Finished (or ran out of time) without a verdict: one may still be on
                // its way from the last events.
                if let Ok(found) = verdicts.recv_timeout(Duration::from_millis(500)) {
                    detection = Some(found);
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The engine stopped the attack at its verdict; now end it for good, workers too.
        if let Some(group) = group {
            crate::process_group::signal_group(group, rustix::process::Signal::KILL);
        }
        let _ = child.wait().await;
        let root = scratch.clone();
        let lost =
            tokio::task::spawn_blocking(move || simulate::lost_files(&root, &manifest)).await?;
        Ok(DrillRun {
            files_total: files as u32,
            files_lost: lost.len() as u32,
            time_to_detect_ms: detection
                .as_ref()
                .map(|(seen, _)| seen.saturating_duration_since(started).as_millis() as u64),
            detection: detection.map(|(_, d)| d.local_id),
        })
    }
}

impl JobExecutor for DrillExecutor {
    fn kind(&self) -> &str {
        steward_core::JobKind::RansomwareDrill.as_str()
    }

    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            let params: DrillParams = match serde_json::from_value(job.params.clone()) {
                Ok(p) => p,
                Err(e) => return JobOutcome::failed(format!("bad drill parameters: {e}")),
            };
            match self.drill(ctx.job_id(), ctx.state_dir(), params).await {
                Ok(run) => {
                    let message = match run.time_to_detect_ms {
                        Some(ms) => format!(
                            "detected in {ms} ms; {} of {} files lost before the attack was stopped",
                            run.files_lost, run.files_total
                        ),
                        None => format!(
                            "NOT DETECTED: the simulated attack destroyed {} of {} files",
                            run.files_lost, run.files_total
                        ),
                    };
                    JobOutcome::Succeeded {
                        message,
                        output: serde_json::to_string(&run).unwrap_or_default(),
                    }
                }
                Err(e) => JobOutcome::failed(format!("the drill could not run: {e:#}")),
            }
        })
    }
}

/// Removes the drill's scratch folder however the drill ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stops watching the drill's folder however the drill ends.
struct EndDrillOnDrop(Arc<DetectionFeed>, String);

impl Drop for EndDrillOnDrop {
    fn drop(&mut self) {
        self.0.end_drill(&self.1);
    }
}
