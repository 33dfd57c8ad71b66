//! What every program the agent starts shares: the system's search path, and stopping a
//! child together with everything it started. Both runners use it — `updates::command`
//! (synchronous, streaming a package manager's log line by line) and `scripts::process`
//! (asynchronous, one pipe for a script's output) — so a timeout means the same thing for
//! an install and for a script.

use rustix::process::{Pid, Signal, kill_process_group};

/// Where programs are looked for when the agent does not pass its own `PATH`: the system's
/// directories only, `sbin` included.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process group a child leads (it was started with `process_group(0)`), or `None`
/// for an id that is no process (0 or out of range: signalling it would reach the agent's
/// own group).
pub fn group_of(child_id: u32) -> Option<Pid> {
    i32::try_from(child_id).ok().and_then(Pid::from_raw)
}

/// Sends `signal` to every process of `group`; a group already gone is no error.
pub fn signal_group(group: Pid, signal: Signal) {
    let _ = kill_process_group(group, signal);
}
