//! The responses to a detection: stop the offending process tree (SIGSTOP, so a person can
//! inspect it), then kill or continue it on that person's decision; cut the device off the
//! network except for the Steward server, and lift that.
//!
//! A process is known by its pid and its start time: between the stop and a person's
//! decision (minutes, hours) a pid may be reused, and a kill must never reach the new
//! process. The stopped processes are remembered in this agent process ([`stopped`]); after
//! a restart of the agent, a pid it no longer remembers is acted on only while it is still
//! stopped (state `T`), which is what the stop left it in.
//!
//! Isolation is an nftables table of Steward's own, `inet steward_isolation`, whose input
//! and output chains drop everything but loopback and the connection to the server; it is
//! replaced whole in one `nft -f -` transaction and lifted by deleting the table, so it
//! never touches the machine's own firewall rules.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use rustix::process::{Pid, Signal, kill_process};
use steward_core::detection::{ResponseAction, ResponseStep};

use super::sensor::procs;

/// The name of Steward's own nftables table.
pub const ISOLATION_TABLE: &str = "steward_isolation";
/// Most processes one stop acts on (a fork bomb is stopped at its first thousand).
pub const MAX_TREE: usize = 1024;
/// How many times the process table is rescanned for children forked while the tree was
/// being stopped.
const ROUNDS: usize = 5;

/// The processes this agent stopped: pid → start time.
static STOPPED: Mutex<BTreeMap<u32, u64>> = Mutex::new(BTreeMap::new());

/// One stopped process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub pid: u32,
    pub start_time: u64,
}

/// The processes this agent has stopped and not yet killed or continued.
pub fn stopped() -> Vec<Stopped> {
    STOPPED
        .lock()
        .map(|m| {
            m.iter()
                .map(|(pid, start_time)| Stopped {
                    pid: *pid,
                    start_time: *start_time,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn step(action: ResponseAction, ok: bool, message: String) -> ResponseStep {
    ResponseStep {
        action,
        at: crate::runner::now(),
        ok,
        message,
        job: None,
    }
}

fn pid_of(pid: u32) -> Option<Pid> {
    i32::try_from(pid).ok().and_then(Pid::from_raw)
}

fn signal(pid: u32, sig: Signal) -> bool {
    pid_of(pid).is_some_and(|p| kill_process(p, sig).is_ok())
}

/// Whether `pid` exists and this process may signal it (signal 0: nothing is sent).
fn may_signal(pid: u32) -> bool {
    pid_of(pid).is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
}

fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "none", "1 process: 4242", "2 processes: 4242 4243".
pub(crate) fn processes(pids: &[u32]) -> String {
    match pids.len() {
        0 => "no process".into(),
        1 => format!("1 process: {}", list(pids)),
        n => format!("{n} processes: {}", list(pids)),
    }
}

/// SIGSTOPs `pid` and all its descendants, the root first (so it forks no more), then the
/// tree as `/proc` shows it, again until no new child appears. Never the agent itself, its
/// ancestors, or pid 1.
pub fn stop_tree(pid: u32) -> ResponseStep {
    stop_tree_recorded(pid).0
}

/// [`stop_tree`], with the processes it stopped.
pub fn stop_tree_recorded(pid: u32) -> (ResponseStep, Vec<Stopped>) {
    walk_tree(pid, Walk::Stop)
}

/// The stop's code, run without stopping anything (the engine's rehearsal,
/// [`super::rehearsal`]): the agent's own tree is walked as a stop walks an offender's,
/// each process found is only asked whether it could be signalled (signal 0), and nothing
/// is remembered. Returns how many processes it found.
pub fn rehearse_stop() -> usize {
    walk_tree(std::process::id(), Walk::Rehearse).1.len()
}

/// What [`walk_tree`] does to each process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Stop,
    Rehearse,
}

fn walk_tree(pid: u32, walk: Walk) -> (ResponseStep, Vec<Stopped>) {
    let me = std::process::id();
    let protected = protected_pids(me);
    if walk == Walk::Stop && (pid <= 1 || protected.contains(&pid)) {
        let why =
            format!("refused to stop pid {pid}: it is the agent, one of its ancestors or init");
        return (step(ResponseAction::Stop, false, why), vec![]);
    }
    let mut done: Vec<Stopped> = Vec::new();
    let mut seen = BTreeSet::new();
    let stop = |pid: u32, done: &mut Vec<Stopped>| {
        let Some(stat) = procs::stat(pid) else { return };
        let sent = match walk {
            Walk::Stop => signal(pid, Signal::STOP),
            Walk::Rehearse => may_signal(pid),
        };
        if sent {
            done.push(Stopped {
                pid,
                start_time: stat.start_time,
            });
        }
    };
    stop(pid, &mut done);
    if done.is_empty() {
        let why = format!("could not stop pid {pid}: it is gone or not ours to signal");
        return (step(ResponseAction::Stop, false, why), vec![]);
    }
    seen.insert(pid);
    for _ in 0..ROUNDS {
        let mut found = false;
        for child in descendants(pid) {
            if done.len() >= MAX_TREE {
                break;
            }
            if protected.contains(&child) || !seen.insert(child) {
                continue;
            }
            found = true;
            stop(child, &mut done);
        }
        if !found {
            break;
        }
    }
    if walk == Walk::Stop
        && let Ok(mut map) = STOPPED.lock()
    {
        for s in &done {
            map.insert(s.pid, s.start_time);
        }
    }
    let pids: Vec<u32> = done.iter().map(|s| s.pid).collect();
    let message = format!("stopped {}", processes(&pids));
    (step(ResponseAction::Stop, true, message), done)
}

/// The agent and its ancestors.
fn protected_pids(me: u32) -> BTreeSet<u32> {
    let mut set = BTreeSet::from([me]);
    let mut pid = me;
    for _ in 0..64 {
        match procs::stat(pid) {
            Some(s) if s.ppid > 0 => {
                set.insert(s.ppid);
                pid = s.ppid;
            }
            _ => break,
        }
    }
    set
}

/// SIGSTOPs each of `pids` at once, before anything slower: the processes a verdict
/// names (an attack's workers among them) stop writing while their trees are looked up.
/// Never the agent, its ancestors or pid 1. [`stop_tree`] records them afterwards.
pub fn freeze(pids: &[u32]) {
    let protected = protected_pids(std::process::id());
    for &pid in pids {
        if pid > 1 && !protected.contains(&pid) {
            signal(pid, Signal::STOP);
        }
    }
}

/// All descendants of `root`, breadth first: from the kernel's children lists where it
/// keeps them (`/proc/PID/task/TID/children`, a few small reads), else one scan of `/proc`.
fn descendants(root: u32) -> Vec<u32> {
    descendants_from_children_lists(root).unwrap_or_else(|| descendants_by_scan(root))
}

fn descendants_from_children_lists(root: u32) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(p) = queue.pop_front() {
        let tasks = std::fs::read_dir(format!("/proc/{p}/task")).ok()?;
        for task in tasks.flatten() {
            let children = match std::fs::read_to_string(task.path().join("children")) {
                Ok(text) => text,
                // The kernel keeps no such list (CONFIG_PROC_CHILDREN off): scan instead.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(_) => continue,
            };
            for child in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if out.len() >= MAX_TREE {
                    return Some(out);
                }
                out.push(child);
                queue.push_back(child);
            }
        }
    }
    Some(out)
}

/// All descendants of `root` from one scan of `/proc`, breadth first.
fn descendants_by_scan(root: u32) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = procs::stat(pid) {
                children.entry(stat.ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(p) = queue.pop_front() {
        for c in children.get(&p).into_iter().flatten() {
            if out.len() >= MAX_TREE {
                return out;
            }
            out.push(*c);
            queue.push_back(*c);
        }
    }
    out
}

/// Whether `pid` is still the process this agent stopped (same start time), or, when the
/// agent does not remember it (restarted since), a process still stopped.
fn still_the_stopped(pid: u32) -> bool {
    let Some(stat) = procs::stat(pid) else {
        return false;
    };
    let remembered = STOPPED.lock().ok().and_then(|m| m.get(&pid).copied());
    match remembered {
        Some(start) => start == stat.start_time,
        None => stat.state == 'T',
    }
}

fn act(action: ResponseAction, pids: &[u32], sig: Signal, verb: &str) -> ResponseStep {
    let mut acted = Vec::new();
    let mut skipped = Vec::new();
    for &pid in pids {
        if pid > 1 && still_the_stopped(pid) && signal(pid, sig) {
            acted.push(pid);
        } else {
            skipped.push(pid);
        }
        if let Ok(mut map) = STOPPED.lock() {
            map.remove(&pid);
        }
    }
    let mut message = format!("{verb} {}", processes(&acted));
    if !skipped.is_empty() {
        message.push_str(&format!(
            "; left alone {} (gone, or no longer the process that was stopped): {}",
            skipped.len(),
            list(&skipped)
        ));
    }
    let ok = !acted.is_empty() || pids.is_empty();
    step(action, ok, message)
}

/// SIGKILLs each of `pids` that is still the process that was stopped (a stopped process
/// dies of SIGKILL without being continued).
pub fn kill(pids: &[u32]) -> ResponseStep {
    act(ResponseAction::Kill, pids, Signal::KILL, "killed")
}

/// SIGCONTs each of `pids` that is still the process that was stopped.
pub fn resume(pids: &[u32]) -> ResponseStep {
    act(ResponseAction::Continue, pids, Signal::CONT, "continued")
}

/// How `nft` is run: on the machine, or (tests) inside a network namespace.
#[derive(Debug, Clone)]
pub struct Nft {
    command: Vec<String>,
}

impl Default for Nft {
    fn default() -> Self {
        Nft::system()
    }
}

impl Nft {
    /// The machine's `nft`.
    pub fn system() -> Nft {
        Nft {
            command: vec!["nft".into()],
        }
    }

    /// `nft` run through a prefix (`ip netns exec NAME nft`).
    pub fn with_command(command: Vec<String>) -> Nft {
        Nft { command }
    }

    fn run(&self, ruleset: &str) -> Result<(), String> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| "no nft command".to_string())?;
        let mut child = Command::new(program)
            .args(args)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "nft is not installed (install the nftables package)".to_string()
                } else {
                    format!("could not run nft: {e}")
                }
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(ruleset.as_bytes())
                .map_err(|e| format!("writing to nft: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for nft: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!("nft failed ({}): {}", out.status, err.trim()))
        }
    }

    /// Cuts the machine off the network except loopback and TCP to and from `servers`
    /// (the Steward server's addresses and port).
    pub fn isolate(&self, servers: &[SocketAddr]) -> ResponseStep {
        if servers.is_empty() {
            return step(
                ResponseAction::Isolate,
                false,
                "refused to isolate: the server's address is unknown, and isolating would cut \
                 the agent off from it"
                    .into(),
            );
        }
        match self.run(&isolation_ruleset(servers)) {
            Ok(()) => {
                let to: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
                step(
                    ResponseAction::Isolate,
                    true,
                    format!(
                        "isolated: only the Steward server ({}) is reachable",
                        to.join(", ")
                    ),
                )
            }
            Err(e) => step(ResponseAction::Isolate, false, e),
        }
    }

    /// Lifts the isolation (deletes Steward's table; nothing else is touched).
    pub fn lift(&self) -> ResponseStep {
        // Declaring the table first makes the delete succeed when it is not there.
        let ruleset =
            format!("table inet {ISOLATION_TABLE}\ndelete table inet {ISOLATION_TABLE}\n");
        match self.run(&ruleset) {
            Ok(()) => step(ResponseAction::Lift, true, "isolation lifted".into()),
            Err(e) => step(ResponseAction::Lift, false, e),
        }
    }
}

/// Cuts the machine off except for the server: [`Nft::isolate`] with the machine's `nft`.
pub fn isolate(servers: &[SocketAddr]) -> ResponseStep {
    Nft::system().isolate(servers)
}

/// Lifts the isolation: [`Nft::lift`] with the machine's `nft`.
pub fn lift() -> ResponseStep {
    Nft::system().lift()
}

/// The whole table, replaced in one transaction: loopback, and TCP to the server's address
/// and port (new and established) and back from it (established only), nothing else. No
/// DNS: the agent keeps its connection by address.
pub fn isolation_ruleset(servers: &[SocketAddr]) -> String {
    let mut input = String::new();
    let mut output = String::new();
    for server in servers {
        let family = if server.is_ipv4() { "ip" } else { "ip6" };
        let (ip, port) = (server.ip(), server.port());
        input.push_str(&format!(
            "    {family} saddr {ip} tcp sport {port} ct state established accept\n"
        ));
        output.push_str(&format!(
            "    {family} daddr {ip} tcp dport {port} ct state new,established accept\n"
        ));
    }
    format!(
        "table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n  chain input {{\n    \
         type filter hook input priority -10; policy drop;\n    iif \"lo\" accept\n{input}  }}\n  \
         chain output {{\n    type filter hook output priority -10; policy drop;\n    \
         oif \"lo\" accept\n{output}  }}\n}}\n",
        t = ISOLATION_TABLE
    )
}

/// The server's addresses and port from its URL (`https://steward.example:8443`): what
/// isolation lets through.
pub fn server_addrs(server_url: &str) -> Result<Vec<SocketAddr>, String> {
    let url = reqwest::Url::parse(server_url).map_err(|e| format!("the server's URL: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("the server's URL {server_url} has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("the server's URL {server_url} has no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_admits_the_server_only() {
        let rules = isolation_ruleset(&["192.0.2.10:8443".parse().unwrap()]);
        assert!(
            rules.contains("ip daddr 192.0.2.10 tcp dport 8443 ct state new,established accept")
        );
        assert!(rules.contains("ip saddr 192.0.2.10 tcp sport 8443 ct state established accept"));
        assert!(rules.contains("policy drop"));
        assert!(rules.contains("iif \"lo\" accept"));
        let v6 = isolation_ruleset(&["[2001:db8::1]:443".parse().unwrap()]);
        assert!(v6.contains("ip6 daddr 2001:db8::1 tcp dport 443"));
    }

    #[test]
    fn the_server_url_gives_its_addresses() {
        assert_eq!(
            server_addrs("https://192.0.2.7:8443/").unwrap(),
            ["192.0.2.7:8443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            server_addrs("https://[2001:db8::2]").unwrap(),
            ["[2001:db8::2]:443".parse::<SocketAddr>().unwrap()]
        );
        assert!(server_addrs("not a url").is_err());
    }

    #[test]
    fn the_agent_never_stops_itself() {
        let step = stop_tree(std::process::id());
        assert!(!step.ok, "{step:?}");
        assert!(!stop_tree(1).ok);
    }

    #[test]
    fn the_rehearsed_stop_finds_the_agents_children_and_stops_none() {
        let mut child = Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id();
        let found = rehearse_stop();
        let state = procs::stat(pid).map(|s| s.state);
        let remembered = stopped().iter().any(|s| s.pid == pid);
        let _ = child.kill();
        let _ = child.wait();
        // The agent (this test process) and at least the child.
        assert!(found >= 2, "found {found}");
        assert_ne!(state, Some('T'), "the rehearsal stopped the child");
        assert!(!remembered, "the rehearsal remembered the child as stopped");
    }

    #[test]
    fn a_missing_nft_is_said_plainly() {
        let nft = Nft::with_command(vec!["/nonexistent/nft".into()]);
        let step = nft.lift();
        assert!(!step.ok);
        assert!(step.message.contains("nft is not installed"), "{step:?}");
    }
}
