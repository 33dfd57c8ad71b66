//! The responses on real processes and a real network namespace: a process tree stopped,
//! continued and killed; a process that was never stopped left alone; isolation that lets
//! the server through and nothing else, and its lifting.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steward_agent::detection::respond::{self, Nft};
use steward_agent::detection::sensor::procs;

/// A shell with two sleeping children: `sh` → `sleep`, `sleep`. The caller waits for it.
#[allow(clippy::zombie_processes)]
fn sleep_tree() -> (Child, Vec<u32>) {
    let child = Command::new("sh")
        .arg("-c")
        .arg("sleep 60 & sleep 60 & wait")
        .spawn()
        .unwrap();
    let root = child.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let kids = children(root);
        if kids.len() == 2 {
            let mut all = vec![root];
            all.extend(kids);
            return (child, all);
        }
        assert!(Instant::now() < deadline, "the sleeps did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn children(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| procs::stat(*pid).is_some_and(|s| s.ppid == parent))
        .collect()
}

fn state(pid: u32) -> Option<char> {
    procs::stat(pid).map(|s| s.state)
}

/// Waits until `pid` is in one of `states` (or gone, with `None` among them).
fn wait_state(pid: u32, states: &[Option<char>]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !states.contains(&state(pid)) {
        assert!(
            Instant::now() < deadline,
            "pid {pid} is {:?}, not {states:?}",
            state(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_tree_is_stopped_continued_and_killed() {
    let (mut child, pids) = sleep_tree();
    let stop = respond::stop_tree(pids[0]);
    assert!(stop.ok, "{stop:?}");
    assert!(stop.message.starts_with("stopped 3 processes"), "{stop:?}");
    for pid in &pids {
        wait_state(*pid, &[Some('T')]);
    }
    let remembered: Vec<u32> = respond::stopped().iter().map(|s| s.pid).collect();
    assert!(pids.iter().all(|p| remembered.contains(p)));

    let resume = respond::resume(&pids);
    assert!(
        resume.ok && resume.message.starts_with("continued 3"),
        "{resume:?}"
    );
    for pid in &pids {
        wait_state(*pid, &[Some('S'), Some('R')]);
    }

    assert!(respond::stop_tree(pids[0]).ok);
    let kill = respond::kill(&pids);
    assert!(kill.ok && kill.message.starts_with("killed 3"), "{kill:?}");
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    for pid in &pids[1..] {
        wait_state(*pid, &[None, Some('Z')]);
    }
}

#[test]
fn a_process_that_was_never_stopped_is_left_alone() {
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id();
    wait_state(pid, &[Some('S')]);
    let kill = respond::kill(&[pid]);
    assert!(!kill.ok, "{kill:?}");
    assert!(kill.message.contains("left alone 1"), "{kill:?}");
    assert_eq!(state(pid), Some('S'));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A network namespace with a veth pair to this one: inside, `10.X.0.2`; here, the
/// "server" `10.X.0.1` and another address `10.X.0.5`. Deleted on drop.
struct Namespace {
    name: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Namespace {
    fn create(octet: u8) -> Option<Namespace> {
        let name = format!("steward-iso-{}", std::process::id());
        let host = format!("stw-h{}", std::process::id() % 100_000);
        let inner = format!("stw-n{}", std::process::id() % 100_000);
        let net = |last: u8| format!("10.{octet}.0.{last}");
        if !ip(&["netns", "add", &name]) {
            return None;
        }
        let ns = Namespace { name: name.clone() };
        let ok = ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner])
            && ip(&["link", "set", &inner, "netns", &name])
            && ip(&["addr", "add", &format!("{}/24", net(1)), "dev", &host])
            && ip(&["addr", "add", &format!("{}/24", net(5)), "dev", &host])
            && ip(&["link", "set", &host, "up"])
            && ip(&[
                "netns",
                "exec",
                &name,
                "ip",
                "addr",
                "add",
                &format!("{}/24", net(2)),
                "dev",
                &inner,
            ])
            && ip(&["netns", "exec", &name, "ip", "link", "set", &inner, "up"])
            && ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ok.then_some(ns)
    }

    /// Whether a TCP connection from inside the namespace to `addr` succeeds within 1 s.
    fn connects(&self, addr: SocketAddr) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "timeout", "1", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{}/{}", addr.ip(), addr.port()))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn nft(&self) -> Nft {
        Nft::with_command(vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.name.clone(),
            "nft".into(),
        ])
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        ip(&["netns", "del", &self.name]);
    }
}

#[test]
fn isolation_admits_the_server_only_and_lifts() {
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !have("nft") || !have("bash") {
        eprintln!("nft or bash missing: isolation not tested here");
        return;
    }
    let octet = 200 + (std::process::id() % 50) as u8;
    let Some(ns) = Namespace::create(octet) else {
        eprintln!("no network namespace could be made (not root?): isolation not tested here");
        return;
    };
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let server: SocketAddr = format!("10.{octet}.0.1:{port}").parse().unwrap();
    let other: SocketAddr = format!("10.{octet}.0.5:{port}").parse().unwrap();
    assert!(
        ns.connects(server) && ns.connects(other),
        "the namespace's network works"
    );

    let isolate = ns.nft().isolate(&[server]);
    assert!(isolate.ok, "{isolate:?}");
    assert!(ns.connects(server), "the server is still reachable");
    assert!(!ns.connects(other), "another address is cut off");
    // Isolating twice replaces the table rather than failing.
    assert!(ns.nft().isolate(&[server]).ok);

    let lift = ns.nft().lift();
    assert!(lift.ok, "{lift:?}");
    assert!(ns.connects(other), "lifted: reachable again");
    // Lifting when nothing is isolated is fine.
    assert!(ns.nft().lift().ok);
}

mod job {
    //! The `detection_response` job through its executor, as the runner calls it.

    use super::*;
    use serde_json::json;
    use steward_agent::detection::executor::DetectionResponseExecutor;
    use steward_agent::runner::jobs::JobOutcome;

    fn message(outcome: &JobOutcome) -> &str {
        match outcome {
            JobOutcome::Succeeded { message, .. } | JobOutcome::Failed { message, .. } => message,
            JobOutcome::Unsupported { message } => message,
        }
    }

    #[tokio::test]
    async fn kill_and_continue_act_on_the_stopped_tree() {
        let dir = tempfile::tempdir().unwrap();
        let executor = DetectionResponseExecutor::new();
        let (mut child, pids) = sleep_tree();
        assert!(respond::stop_tree(pids[0]).ok);
        let out = executor
            .execute(
                dir.path(),
                &json!({"detection": "d1", "action": "continue", "pids": pids}),
            )
            .await;
        assert!(matches!(out, JobOutcome::Succeeded { .. }), "{out:?}");
        assert!(message(&out).starts_with("continued 3"), "{out:?}");

        assert!(respond::stop_tree(pids[0]).ok);
        let out = executor
            .execute(
                dir.path(),
                &json!({"detection": "d1", "action": "kill", "pids": pids}),
            )
            .await;
        assert!(matches!(out, JobOutcome::Succeeded { .. }), "{out:?}");
        assert!(message(&out).starts_with("killed 3"), "{out:?}");
        child.wait().unwrap();

        // The same pids again: gone, nothing to do, the job says so and fails.
        let out = executor
            .execute(
                dir.path(),
                &json!({"detection": "d1", "action": "kill", "pids": pids}),
            )
            .await;
        assert!(matches!(out, JobOutcome::Failed { .. }), "{out:?}");
        assert!(message(&out).contains("left alone 3"), "{out:?}");
    }

    #[tokio::test]
    async fn stop_bad_parameters_and_an_unknown_server_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let executor = DetectionResponseExecutor::new();
        let out = executor
            .execute(
                dir.path(),
                &json!({"detection": "d1", "action": "stop", "pids": [42]}),
            )
            .await;
        assert!(message(&out).contains("automatic"), "{out:?}");
        let out = executor
            .execute(dir.path(), &json!({"detection": "d1", "action": "explode"}))
            .await;
        assert!(message(&out).contains("parameters"), "{out:?}");
        let out = executor
            .execute(dir.path(), &json!({"detection": "d1", "action": "kill"}))
            .await;
        assert!(message(&out).contains("no processes"), "{out:?}");
        // No agent state, so no server address: isolation refuses rather than cut it off.
        let out = executor
            .execute(dir.path(), &json!({"detection": "d1", "action": "isolate"}))
            .await;
        assert!(matches!(out, JobOutcome::Failed { .. }), "{out:?}");
        assert!(message(&out).starts_with("not isolated"), "{out:?}");
    }

    #[tokio::test]
    async fn isolate_and_lift_as_jobs() {
        if Command::new("nft").arg("--version").output().is_err() {
            eprintln!("nft missing: not tested here");
            return;
        }
        let octet = 150 + (std::process::id() % 40) as u8;
        let Some(ns) = Namespace::create(octet) else {
            eprintln!("no network namespace (not root?): not tested here");
            return;
        };
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || for _ in listener.incoming() {});
        let server: SocketAddr = format!("10.{octet}.0.1:{port}").parse().unwrap();
        let other: SocketAddr = format!("10.{octet}.0.5:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let executor = DetectionResponseExecutor::new()
            .with_nft(ns.nft())
            .with_servers(vec![server]);
        let out = executor
            .execute(dir.path(), &json!({"detection": "d2", "action": "isolate"}))
            .await;
        assert!(matches!(out, JobOutcome::Succeeded { .. }), "{out:?}");
        assert!(ns.connects(server) && !ns.connects(other));
        let out = executor
            .execute(dir.path(), &json!({"detection": "d2", "action": "lift"}))
            .await;
        assert!(matches!(out, JobOutcome::Succeeded { .. }), "{out:?}");
        assert!(ns.connects(other));
    }
}

#[test]
fn the_device_stops_every_workers_tree_in_one_step() {
    let (mut first, a) = sleep_tree();
    let (mut second, b) = sleep_tree();
    let step = steward_agent::detection::device::stop_all(&[a[0], b[0], a[0]]);
    assert!(step.ok, "{step:?}");
    assert!(step.message.starts_with("stopped 6 processes"), "{step:?}");
    let all: Vec<u32> = a.iter().chain(&b).copied().collect();
    assert!(respond::kill(&all).message.starts_with("killed 6"));
    first.wait().unwrap();
    second.wait().unwrap();
}
