//! The running kernel is the newest installed one: an installed but not running kernel
//! update protects nothing until a reboot.

use std::cmp::Ordering;

use super::{Verdict, fail, list, needed_command, not_applicable, pass};
use crate::host::Host;

/// Compares versions part by part: digit runs as numbers, the rest as text
/// (`6.8.0-45-generic` < `6.8.0-101-generic`).
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(v: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = v.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &v[start..i]));
                start = i;
            }
        }
        out
    }
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let order = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// A kernel version (`6.8.0-45-generic`), not a name without one (Arch's `vmlinuz-linux`),
/// which cannot be compared with `uname -r`.
fn numbered(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_digit())
}

/// The installed kernels' versions: /boot/vmlinuz-VERSION, else /lib/modules/VERSION.
fn installed(host: &dyn Host) -> Result<(Vec<String>, &'static str), super::Outcome> {
    let boot: Vec<String> = list(host, "/boot")?
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.strip_prefix("vmlinuz-"))
        // Fedora's rescue image repeats an old kernel under the machine id.
        .filter(|v| !v.contains("rescue"))
        .filter(|v| numbered(v))
        .map(str::to_owned)
        .collect();
    if !boot.is_empty() {
        return Ok((boot, "/boot"));
    }
    let modules = list(host, "/lib/modules")?.unwrap_or_default();
    Ok((
        modules.into_iter().filter(|v| numbered(v)).collect(),
        "/lib/modules",
    ))
}

pub(crate) fn newest_running(host: &dyn Host) -> Verdict {
    let (kernels, place) = installed(host)?;
    let Some(newest) = kernels
        .iter()
        .max_by(|a, b| compare_versions(a, b))
        .cloned()
    else {
        return Err(not_applicable(
            "no kernel in /boot or /lib/modules",
            "no kernel is installed here: the machine runs its host's (a container)",
        ));
    };
    let running = needed_command(host, "uname -r")?.trim().to_owned();
    let evidence = format!(
        "running {running}; installed in {place}: {}",
        kernels.join(", ")
    );
    if compare_versions(&running, &newest) != Ordering::Less {
        pass(&evidence, "the newest installed kernel is running")
    } else {
        fail(
            &evidence,
            format!("kernel {newest} is installed but {running} is running: reboot"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(
            compare_versions("6.8.0-45-generic", "6.8.0-101-generic"),
            Ordering::Less
        );
        assert_eq!(
            compare_versions("6.11.4-301.fc41.x86_64", "6.9.12-200.fc41.x86_64"),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("6.1.0-26-amd64", "6.1.0-26-amd64"),
            Ordering::Equal
        );
    }
}
