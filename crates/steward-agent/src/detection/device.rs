//! The engine's [`Device`] on this machine: the fanotify/inotify [`Sensor`], canaries in
//! the agent's state directory, and the responses of [`respond`].

use std::path::PathBuf;

use steward_core::detection::{DetectionPolicy, ResponseAction, ResponseStep};
use steward_detect::Event;

use super::canaries;
use super::engine::{Device, EventSource};
use super::respond;
use super::sensor::Sensor;

impl EventSource for Sensor {
    fn read(
        &mut self,
        timeout: std::time::Duration,
        gather: std::time::Duration,
        each: &mut dyn FnMut(Event),
    ) -> std::io::Result<()> {
        Sensor::read_each(self, timeout, gather, each)
    }

    fn kind(&self) -> &'static str {
        Sensor::kind(self)
    }
}

/// This machine, for the detection engine.
#[derive(Debug, Clone)]
pub struct SystemDevice {
    /// The agent's state directory (where the canaries placed are recorded).
    pub state_dir: PathBuf,
    /// The server's URL: the one destination isolation keeps.
    pub server_url: String,
}

impl Device for SystemDevice {
    fn open_sensor(&mut self, folders: &[PathBuf]) -> std::io::Result<Box<dyn EventSource>> {
        let rehearsal = super::rehearsal::folder(&self.state_dir);
        let sensor = Sensor::open_rehearsed(folders, std::process::id(), &rehearsal)?;
        if let Some(why) = sensor.fallback_reason() {
            tracing::warn!(
                reason = why,
                "the detection sensor uses inotify: no process ids"
            );
        }
        Ok(Box::new(sensor))
    }

    fn place_canaries(&mut self, policy: &DetectionPolicy) -> Vec<String> {
        let placed = canaries::apply(&self.state_dir, policy).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "placing the canary files failed");
            canaries::placed(&self.state_dir)
        });
        placed
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    fn stop(&mut self, pids: &[u32]) -> ResponseStep {
        stop_all(pids)
    }

    fn isolate(&mut self) -> ResponseStep {
        match respond::server_addrs(&self.server_url) {
            Ok(servers) => respond::isolate(&servers),
            Err(e) => ResponseStep {
                action: ResponseAction::Isolate,
                at: crate::runner::now(),
                ok: false,
                message: format!("not isolated: {e}"),
                job: None,
            },
        }
    }
}

/// Stops each process's tree (a verdict may name several workers); one step for all.
pub fn stop_all(pids: &[u32]) -> ResponseStep {
    respond::freeze(pids);
    let mut stopped = Vec::new();
    let mut failures = Vec::new();
    for &pid in pids {
        if stopped.contains(&pid) {
            continue;
        }
        let (step, done) = respond::stop_tree_recorded(pid);
        if step.ok {
            stopped.extend(done.iter().map(|s| s.pid));
        } else {
            failures.push(step.message);
        }
    }
    let mut message = format!("stopped {}", super::respond::processes(&stopped));
    if !failures.is_empty() {
        message.push_str(&format!("; {}", failures.join("; ")));
    }
    ResponseStep {
        action: ResponseAction::Stop,
        at: crate::runner::now(),
        ok: !stopped.is_empty(),
        message,
        job: None,
    }
}
