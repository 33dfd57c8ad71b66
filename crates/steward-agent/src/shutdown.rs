//! Whether the machine itself is shutting down when the agent is told to stop.
//!
//! A stopping agent tells the server so (its last report's `stopping`), and the server then
//! says "the agent was stopped" when the device stays silent: different from a machine that
//! lost power or was switched off, whose silence is only "offline". But a clean shutdown or
//! reboot stops the agent's service with the same signal as `systemctl stop` does; said as
//! "stopping", an office PC switched off for the weekend would read as an agent stopped on
//! it. So the agent asks systemd first: while the machine shuts down, `systemctl
//! is-system-running` prints `stopping`, and then the agent says nothing and lets its
//! silence be the machine's. Without systemd, or when it does not answer within a second,
//! the agent says it is stopping, as before.

#[cfg(target_os = "linux")]
use std::path::Path;
#[cfg(target_os = "linux")]
use std::time::Duration;

/// How long `systemctl` may take to answer (at shutdown, D-Bus may be going away).
#[cfg(target_os = "linux")]
const ASK_WITHIN: Duration = Duration::from_secs(1);

/// Whether systemd says the machine is shutting down. Blocking (runs `systemctl`).
#[cfg(target_os = "linux")]
pub fn machine_shutting_down() -> bool {
    said_by(crate::collect::linux::command::find("systemctl").as_deref())
}

/// Elsewhere the agent cannot tell yet: it says it is stopping.
#[cfg(not(target_os = "linux"))]
pub fn machine_shutting_down() -> bool {
    false
}

/// [`machine_shutting_down`] off the async workers.
pub async fn machine_shutting_down_off_the_workers() -> bool {
    tokio::task::spawn_blocking(machine_shutting_down)
        .await
        .unwrap_or(false)
}

/// What `systemctl` (at `systemctl`) says: `stopping` is a shutdown; anything else, no
/// answer or no systemd is not.
#[cfg(target_os = "linux")]
fn said_by(systemctl: Option<&Path>) -> bool {
    let Some(systemctl) = systemctl else {
        return false;
    };
    // It exits non-zero whenever the state is not `running` (`degraded`, `stopping`): the
    // state it prints is what counts.
    crate::collect::linux::command::run(systemctl, &["is-system-running"], ASK_WITHIN)
        .is_ok_and(|out| out.stdout.trim() == "stopping")
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;

    /// A stand-in `systemctl` printing `state` and exiting with `code`.
    fn systemctl(dir: &Path, state: &str, code: i32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("systemctl-{state}"));
        std::fs::write(&path, format!("#!/bin/sh\necho {state}\nexit {code}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn only_a_system_that_is_stopping_is_shutting_down() {
        let dir = tempfile::tempdir().unwrap();
        assert!(said_by(Some(&systemctl(dir.path(), "stopping", 1))));
        for (state, code) in [("running", 0), ("degraded", 1), ("starting", 1)] {
            assert!(
                !said_by(Some(&systemctl(dir.path(), state, code))),
                "{state}"
            );
        }
        // No systemd, or one that cannot be run: the agent says it is stopping.
        assert!(!said_by(None));
        assert!(!said_by(Some(&dir.path().join("missing"))));
    }
}
