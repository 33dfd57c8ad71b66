//! What the sensor knows of the processes behind file events: read once from `/proc` the
//! first time a process is seen, so the detector gets its [`ProcessInfo`] (parent, name,
//! executable, user, ancestors) before its first file event.
//!
//! A pid is reused by the kernel, so a process is known by its pid and its start time; the
//! cache is bounded and forgets the least recently seen processes first.

use std::collections::{HashMap, VecDeque};
use std::fs;

use steward_detect::{Event, ProcessInfo};

/// Most processes remembered. A busy machine writes files from a few hundred processes a
/// minute at most; beyond this the oldest are forgotten (and announced again if they write).
pub const MAX_PROCESSES: usize = 1024;
/// Most ancestors named (nearest first), so a deep or looping chain stays bounded.
pub const MAX_ANCESTORS: usize = 8;
/// How long a pid's start time is trusted before it is read again (milliseconds): a pid
/// reused within this window by a new process is attributed to the old one's facts.
const RECHECK_MS: u64 = 1_000;

/// A process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`), and its
/// parent and short name: `None` when the process is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    pub name: String,
    /// Single-letter state (`R`, `S`, `T` for stopped, `Z`).
    pub state: char,
    pub start_time: u64,
}

/// Reads `/proc/PID/stat`. The name is between the first `(` and the last `)` (a name may
/// hold spaces and parentheses).
pub fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_string();
    // After the name: state (3), ppid (4), …, starttime (22): index 0 is the state.
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let ppid = rest.get(1)?.parse().ok()?;
    let start_time = rest.get(19)?.parse().ok()?;
    Some(Stat {
        ppid,
        name,
        state,
        start_time,
    })
}

/// The uid the process acts as: the owner of its `/proc/PID` directory, which the kernel
/// sets to the effective uid (one `stat`, where `/proc/PID/status` would have the kernel
/// format fifty lines; root for a process that made itself undumpable).
fn uid(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/{pid}"))
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// The process's facts as the detector wants them; `ppid` 0 and an empty name when the
/// process was gone before it could be read.
pub fn process_info(pid: u32) -> ProcessInfo {
    process_info_with(pid, ancestors).0
}

/// [`process_info`] with the ancestors' names from `ancestors_of(ppid)` (a cache), and the
/// process's start time (0 when it is gone).
fn process_info_with(
    pid: u32,
    ancestors_of: impl FnOnce(u32) -> Vec<String>,
) -> (ProcessInfo, u64) {
    let Some(stat) = stat(pid) else {
        let gone = ProcessInfo {
            pid,
            ppid: 0,
            name: String::new(),
            exe: String::new(),
            uid: 0,
            ancestors: vec![],
        };
        return (gone, 0);
    };
    let exe = fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let info = ProcessInfo {
        pid,
        ppid: stat.ppid,
        name: stat.name,
        exe,
        uid: uid(pid),
        ancestors: ancestors_of(stat.ppid),
    };
    (info, stat.start_time)
}

/// The names of `ppid` and its ancestors, nearest first, at most [`MAX_ANCESTORS`].
fn ancestors(ppid: u32) -> Vec<String> {
    lineage_of(&mut Lineages::new(), ppid, 0, MAX_ANCESTORS)
}

/// The names of `pid` and its ancestors, nearest first, at most `depth`: from `cache` where
/// it knows them (read within [`RECHECK_MS`]), else `pid`'s own `stat` and its parent's
/// lineage, cached in turn. A build starts thousands of compilers under a few parents:
/// each new one costs one read of `/proc`, not one per ancestor.
fn lineage_of(cache: &mut Lineages, pid: u32, now_ms: u64, depth: usize) -> Vec<String> {
    if pid == 0 || depth == 0 {
        return Vec::new();
    }
    if let Some(known) = cache.get(&pid)
        && now_ms.saturating_sub(known.at) < RECHECK_MS
        && (known.whole || known.names.len() >= depth)
    {
        return known.names.iter().take(depth).cloned().collect();
    }
    let Some(stat) = stat(pid) else {
        return Vec::new();
    };
    let mut names = vec![stat.name];
    names.extend(lineage_of(cache, stat.ppid, now_ms, depth - 1));
    if cache.len() >= MAX_LINEAGES {
        cache.retain(|_, known| now_ms.saturating_sub(known.at) < RECHECK_MS);
        if cache.len() >= MAX_LINEAGES {
            cache.clear();
        }
    }
    let whole = names.len() < depth;
    let known = Lineage {
        names: names.clone(),
        at: now_ms,
        whole,
    };
    cache.insert(pid, known);
    names
}

/// Lineages read lately, by pid.
type Lineages = HashMap<u32, Lineage>;

/// A process's name and its ancestors' names, nearest first.
#[derive(Debug)]
struct Lineage {
    names: Vec<String>,
    /// When it was read (sensor milliseconds).
    at: u64,
    /// Whether the chain ended (at init or a process gone) within the names: it holds every
    /// ancestor, not only as many as were asked for.
    whole: bool,
}

/// The processes already announced to the detector.
#[derive(Debug, Default)]
pub struct Processes {
    /// pid → (start time, when it was last checked, in sensor milliseconds).
    known: HashMap<u32, (u64, u64)>,
    /// pids in the order they were announced or refreshed, for eviction (may hold stale
    /// entries; they are skipped).
    order: VecDeque<u32>,
    /// A parent's ancestor names (itself first), read at most once per [`RECHECK_MS`]: a
    /// shell loop starting a thousand `mv`s has their lineage read once, not a thousand
    /// times.
    lineage: Lineages,
}

/// Most parents whose lineage is remembered.
const MAX_LINEAGES: usize = 256;

impl Processes {
    /// Hands `pid`'s [`Event::Process`] to `out` unless it was already announced (the same
    /// pid with the same start time). `now_ms` is the sensor's clock.
    pub fn announce(&mut self, pid: u32, now_ms: u64, out: &mut dyn FnMut(Event)) {
        if let Some((start, checked)) = self.known.get(&pid).copied() {
            if now_ms.saturating_sub(checked) < RECHECK_MS {
                return;
            }
            let current = stat(pid).map(|s| s.start_time);
            // Gone (None) means nothing new to say: the events come from the process known.
            if current.is_none() || current == Some(start) {
                self.known.insert(pid, (start, now_ms));
                return;
            }
        }
        let lineage = &mut self.lineage;
        let (info, start) =
            process_info_with(pid, |ppid| lineage_of(lineage, ppid, now_ms, MAX_ANCESTORS));
        self.known.insert(pid, (start, now_ms));
        self.order.push_back(pid);
        self.evict();
        out(Event::Process(info));
    }

    fn evict(&mut self) {
        while self.known.len() > MAX_PROCESSES {
            match self.order.pop_front() {
                Some(pid) => {
                    // Only drop it if no later entry for the same pid remains queued.
                    if !self.order.contains(&pid) {
                        self.known.remove(&pid);
                    }
                }
                None => break,
            }
        }
        // The queue holds at most twice the cap of stale entries.
        if self.order.len() > 2 * MAX_PROCESSES {
            let known = &self.known;
            let mut seen = std::collections::HashSet::new();
            let mut kept: VecDeque<u32> = self
                .order
                .iter()
                .rev()
                .filter(|p| known.contains_key(p) && seen.insert(**p))
                .copied()
                .collect();
            kept.make_contiguous().reverse();
            self.order = kept;
        }
    }

    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parentheses_is_read_whole() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    123456 1000 100 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.name, "my (odd) name");
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.start_time, 123456);
    }

    #[test]
    fn this_process_is_read_and_announced_once() {
        let me = std::process::id();
        let info = process_info(me);
        assert!(!info.name.is_empty());
        assert!(info.ppid > 0);
        assert!(!info.ancestors.is_empty());
        let mut procs = Processes::default();
        let mut out = vec![];
        for at in [0, 10, 5_000] {
            procs.announce(me, at, &mut |e| out.push(e));
        }
        assert_eq!(out.len(), 1, "the same process is announced once");
    }

    #[test]
    fn a_lineage_read_in_parts_is_the_whole_chain() {
        let me = std::process::id();
        let whole = ancestors(me);
        assert!(whole.len() >= 2, "{whole:?}");
        let mut cache = Lineages::new();
        // A short read first (cached as not whole), then the full depth: read again.
        let short = lineage_of(&mut cache, me, 0, 1);
        assert_eq!(short, whole[..1]);
        assert_eq!(lineage_of(&mut cache, me, 0, MAX_ANCESTORS), whole);
        // The parent's lineage came with it, cached: its child's is the child plus it.
        let parent = stat(me).unwrap().ppid;
        assert_eq!(cache[&parent].names, whole[1..]);
        assert_eq!(lineage_of(&mut cache, me, 10, MAX_ANCESTORS), whole);
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut procs = Processes::default();
        let mut out = vec![];
        // pids far above pid_max: gone, announced with empty facts, still cached.
        for pid in 0..(MAX_PROCESSES as u32 + 100) {
            procs.announce(90_000_000 + pid, 0, &mut |e| out.push(e));
        }
        assert_eq!(procs.len(), MAX_PROCESSES);
        assert!(procs.order.len() <= 2 * MAX_PROCESSES);
    }
}
