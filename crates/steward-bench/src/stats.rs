//! Latency summaries and process measurements from /proc.

use std::time::Duration;

/// Percentile of sorted samples (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// (resident set size, peak resident set size) of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let [rss, peak] = status_kib(pid, ["VmRSS:", "VmHWM:"])?;
    Some((rss, peak))
}

/// A process's resident memory split into anonymous and file-backed pages, in KiB.
pub fn rss_split_kib(pid: u32) -> Option<(u64, u64)> {
    let [anon, file] = status_kib(pid, ["RssAnon:", "RssFile:"])?;
    Some((anon, file))
}

/// Fields of /proc/PID/status given in kB.
fn status_kib<const N: usize>(pid: u32, names: [&str; N]) -> Option<[u64; N]> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut values = [0; N];
    for (value, name) in values.iter_mut().zip(names) {
        *value = status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())?;
    }
    Some(values)
}

/// CPU time (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on Linux x86_64 and arm64.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time (user + system) this process used, and that of its children it has waited
/// for (the commands a posture evaluation runs), from /proc/self/stat.
pub fn own_and_children_cpu_time() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    let own = tick(11)? + tick(12)?;
    let children = tick(13)? + tick(14)?;
    Some((
        Duration::from_millis(own * 10),
        Duration::from_millis(children * 10),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap().0 > 0);
        assert!(cpu_time(pid).is_some());
    }
}
