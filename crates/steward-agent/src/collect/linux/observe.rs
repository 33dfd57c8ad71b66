//! What the server asked this agent to watch ([`Watch`]): each unit's active state and the
//! failed units, from `systemctl` (the running state, not unit files), and how many processes
//! run under each watched name, from `/proc`.

use std::path::Path;
use std::time::Duration;

use steward_core::checks::observations::{ProcessCount, UnitState};
use steward_core::checks::{Observations, Watch};

/// A `systemctl` call longer than this is abandoned (a wedged D-Bus).
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(5);
/// The kernel keeps a process's name (`comm`) to 15 bytes.
const COMM_LEN: usize = 15;

/// Observes what `watch` names.
pub fn observe(watch: &Watch, proc_root: &Path) -> Observations {
    let systemctl = super::command::find("systemctl");
    let mut seen = Observations {
        watch_version: watch.version.clone(),
        probes: Vec::new(),
        failed_units: systemctl.as_deref().and_then(failed_units),
        units: match (&systemctl, watch.units.is_empty()) {
            (Some(systemctl), false) => unit_states(systemctl, &watch.units),
            _ => Vec::new(),
        },
        processes: if watch.processes.is_empty() {
            Vec::new()
        } else {
            count_processes(proc_root, &watch.processes)
        },
    };
    seen.clamp_to_limits();
    seen
}

/// Failed units; `None` when systemd cannot be asked (not booted with systemd, a container).
fn failed_units(systemctl: &Path) -> Option<Vec<String>> {
    let out = super::command::run(
        systemctl,
        &[
            "list-units",
            "--state=failed",
            "--plain",
            "--no-legend",
            "--no-pager",
            "--full",
        ],
        SYSTEMCTL_TIMEOUT,
    )
    .ok()?;
    out.success.then(|| parse_failed(&out.stdout))
}

fn parse_failed(listing: &str) -> Vec<String> {
    listing
        .lines()
        // A bullet may lead the line on some versions.
        .filter_map(|line| {
            line.trim_start()
                .trim_start_matches('●')
                .split_whitespace()
                .next()
        })
        .map(str::to_string)
        .filter(|unit| !unit.is_empty())
        .collect()
}

/// Each unit's active state; `not-found` for a unit the system does not have, `unknown`
/// when systemd could not be asked.
fn unit_states(systemctl: &Path, units: &[String]) -> Vec<UnitState> {
    let mut args = vec![
        "show",
        "--property=LoadState,ActiveState",
        "--no-pager",
        "--",
    ];
    args.extend(units.iter().map(String::as_str));
    match super::command::run(systemctl, &args, SYSTEMCTL_TIMEOUT) {
        Ok(out) if out.success => parse_show(&out.stdout, units),
        _ => units
            .iter()
            .map(|name| UnitState {
                name: name.clone(),
                active_state: "unknown".into(),
            })
            .collect(),
    }
}

/// `systemctl show` prints one block per unit, in the order asked, separated by blank lines.
fn parse_show(text: &str, units: &[String]) -> Vec<UnitState> {
    let blocks: Vec<&str> = text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    units
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let block = blocks.get(i).copied().unwrap_or_default();
            let property = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .map(str::trim)
            };
            let active_state = match (property("LoadState"), property("ActiveState")) {
                (Some("not-found"), _) => "not-found".to_string(),
                (_, Some(state)) if !state.is_empty() => state.to_string(),
                _ => "unknown".to_string(),
            };
            UnitState {
                name: name.clone(),
                active_state,
            }
        })
        .collect()
}

/// How many processes run under each name, matched on the kernel's process name (cut to 15
/// bytes, as the kernel keeps it).
fn count_processes(proc_root: &Path, names: &[String]) -> Vec<ProcessCount> {
    let mut counts: Vec<ProcessCount> = names
        .iter()
        .map(|name| ProcessCount {
            name: name.clone(),
            running: 0,
        })
        .collect();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return counts;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str() else {
            continue;
        };
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim_end_matches('\n');
        for count in &mut counts {
            if truncated(&count.name) == comm {
                count.running = count.running.saturating_add(1);
            }
        }
    }
    counts
}

fn truncated(name: &str) -> &str {
    let mut end = name.len().min(COMM_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_units_are_the_first_column() {
        let listing = "backup.service loaded failed failed Nightly backup\n\
                       ● cups.socket    loaded failed failed CUPS\n";
        assert_eq!(parse_failed(listing), vec!["backup.service", "cups.socket"]);
        assert!(parse_failed("").is_empty());
    }

    #[test]
    fn show_blocks_are_read_in_order_and_missing_units_are_not_found() {
        let text = "LoadState=loaded\nActiveState=active\n\n\
                    LoadState=not-found\nActiveState=inactive\n\n\
                    LoadState=loaded\nActiveState=failed\n";
        let units = ["nginx.service", "ghost.service", "cron.service"].map(String::from);
        let states: Vec<String> = parse_show(text, &units)
            .into_iter()
            .map(|u| format!("{}={}", u.name, u.active_state))
            .collect();
        assert_eq!(
            states,
            [
                "nginx.service=active",
                "ghost.service=not-found",
                "cron.service=failed"
            ]
        );
    }

    #[test]
    fn processes_are_counted_by_their_kernel_name() {
        let root = tempfile::tempdir().unwrap();
        for (pid, comm) in [
            ("1", "init"),
            ("20", "postgres"),
            ("21", "postgres"),
            ("30", "a-very-long-pro"),
        ] {
            std::fs::create_dir(root.path().join(pid)).unwrap();
            std::fs::write(root.path().join(pid).join("comm"), format!("{comm}\n")).unwrap();
        }
        std::fs::create_dir(root.path().join("self")).unwrap();
        let names = ["postgres", "a-very-long-process-name", "nginx"].map(String::from);
        let counts: Vec<u32> = count_processes(root.path(), &names)
            .iter()
            .map(|c| c.running)
            .collect();
        assert_eq!(counts, [2, 1, 0]);
    }

    #[test]
    fn this_machine_can_be_observed_without_failing() {
        let watch = Watch::of(&[steward_core::checks::DeviceCheck::Process {
            name: "definitely-not-running".into(),
            min_count: 1,
        }]);
        let seen = observe(&watch, Path::new("/proc"));
        assert_eq!(seen.watch_version, watch.version);
        assert_eq!(seen.processes[0].running, 0);
        assert_eq!(seen.check_limits(), Ok(()));
    }
}
