//! Real agents (the production runner) with a scripted platform collector, so a test can
//! change what the "machine" looks like and watch the change reach the server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_agent::collect::Collector;
use steward_agent::runner::{AgentConfig, enroll, run};
use steward_core::{
    Account, CertFingerprint, Filesystem, Hardware, Inventory, Listener, Metrics, NetInterface,
    OsInfo, Package, PackageSource, Protocol,
};
use tokio::sync::oneshot;

/// A realistic inventory: a Debian workstation with `packages` packages.
pub fn sample_inventory(hostname: &str, packages: usize) -> Inventory {
    let mut inv = Inventory {
        hostname: hostname.to_string(),
        os: OsInfo {
            family: "linux".into(),
            name: "Debian GNU/Linux".into(),
            version: "12".into(),
            kernel: "6.1.0-26-amd64".into(),
            arch: "x86_64".into(),
        },
        boot_time: 1_700_000_000,
        hardware: Hardware {
            cpu_model: "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz".into(),
            cpu_cores: 6,
            memory_bytes: 16 << 30,
            vendor: "LENOVO".into(),
            model: "ThinkCentre M720q".into(),
            serial: "PC1ABCDE".into(),
        },
        filesystems: vec![Filesystem {
            mount_point: "/".into(),
            device: "/dev/nvme0n1p2".into(),
            fs_type: "ext4".into(),
            total_bytes: 256 << 30,
        }],
        interfaces: vec![NetInterface {
            name: "eno1".into(),
            mac: "8c:16:45:00:11:22".into(),
            addresses: vec!["192.0.2.10/24".into()],
        }],
        packages: (0..packages)
            .map(|i| Package {
                name: format!("package-{i:05}"),
                version: format!("1.{i}.0-1"),
                arch: "amd64".into(),
                source: PackageSource::Dpkg,
            })
            .collect(),
        accounts: vec![
            Account {
                name: "root".into(),
                uid: 0,
                gid: 0,
                home: "/root".into(),
                shell: "/bin/bash".into(),
                is_admin: true,
                can_login: true,
            },
            Account {
                name: "john".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/john".into(),
                shell: "/bin/bash".into(),
                is_admin: false,
                can_login: true,
            },
        ],
        listeners: vec![Listener {
            protocol: Protocol::Tcp,
            address: "0.0.0.0".into(),
            port: 22,
            process: "sshd".into(),
            pid: Some(612),
        }],
    };
    inv.normalize();
    inv
}

/// A collector whose inventory, metrics and observed units and processes the test controls.
#[derive(Clone)]
pub struct ScriptedCollector {
    pub inventory: Arc<Mutex<Inventory>>,
    pub machine: Arc<Mutex<Machine>>,
}

/// What the scripted machine reports besides its inventory.
#[derive(Debug, Clone)]
pub struct Machine {
    pub metrics: Metrics,
    /// Unit name → active state; a watched unit not listed is `not-found`.
    pub units: std::collections::HashMap<String, String>,
    /// Process name → how many run.
    pub processes: std::collections::HashMap<String, u32>,
    /// `None`: no systemd to ask.
    pub failed_units: Option<Vec<String>>,
    /// The watch lists the agent asked about, latest last.
    pub watched: Vec<steward_core::checks::Watch>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            metrics: default_metrics(),
            units: Default::default(),
            processes: Default::default(),
            failed_units: Some(Vec::new()),
            watched: Vec::new(),
        }
    }
}

impl ScriptedCollector {
    pub fn new(inventory: Inventory) -> Self {
        Self {
            inventory: Arc::new(Mutex::new(inventory)),
            machine: Arc::default(),
        }
    }

    /// Changes what the machine reports at its next check-in.
    pub fn set(&self, f: impl FnOnce(&mut Machine)) {
        f(&mut self.machine.lock().unwrap());
    }
    /// Changes the machine.
    pub fn change(&self, f: impl FnOnce(&mut Inventory)) {
        let mut inv = self.inventory.lock().unwrap();
        f(&mut inv);
        inv.normalize();
    }
}

impl Collector for ScriptedCollector {
    fn inventory(&mut self) -> anyhow::Result<Inventory> {
        Ok(self.inventory.lock().unwrap().clone())
    }
    fn metrics(&mut self) -> Metrics {
        self.machine.lock().unwrap().metrics.clone()
    }

    fn observe(
        &mut self,
        watch: &steward_core::checks::Watch,
    ) -> steward_core::checks::Observations {
        use steward_core::checks::observations::{ProcessCount, UnitState};
        let mut machine = self.machine.lock().unwrap();
        machine.watched.push(watch.clone());
        steward_core::checks::Observations {
            watch_version: watch.version.clone(),
            probes: Vec::new(),
            failed_units: machine.failed_units.clone(),
            units: watch
                .units
                .iter()
                .map(|u| UnitState {
                    name: u.clone(),
                    active_state: machine.units.get(u).cloned().unwrap_or("not-found".into()),
                })
                .collect(),
            processes: watch
                .processes
                .iter()
                .map(|p| ProcessCount {
                    name: p.clone(),
                    running: machine.processes.get(p).copied().unwrap_or(0),
                })
                .collect(),
        }
    }
}

/// What a scripted machine reports unless the test says otherwise: a quiet machine, its
/// disk 39 % full.
pub fn default_metrics() -> Metrics {
    Metrics {
        cpu_percent: 3.5,
        memory_used_bytes: 4 << 30,
        memory_total_bytes: 16 << 30,
        swap_used_bytes: 0,
        load_1m: 0.2,
        uptime_secs: 3600,
        filesystems: vec![steward_core::FilesystemUsage {
            mount_point: "/".into(),
            total_bytes: 256 << 30,
            used_bytes: 100 << 30,
        }],
        disks: vec![steward_core::DiskIo {
            device: "sda".into(),
            read_bytes_per_sec: 4096,
            write_bytes_per_sec: 1024,
        }],
        networks: vec![steward_core::NetThroughput {
            interface: "eth0".into(),
            rx_bytes_per_sec: 2048,
            tx_bytes_per_sec: 256,
        }],
        ..Default::default()
    }
}

/// An enrolled agent with its own state directory, running or stopped.
pub struct TestAgent {
    dir: tempfile::TempDir,
    pub collector: ScriptedCollector,
    pub device_id: String,
    running: Option<(
        oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl TestAgent {
    /// Enrolls over HTTP(S) with `token` (pinning the certificate first seen over HTTPS);
    /// does not start it.
    pub async fn enroll(
        server_url: &str,
        token: &str,
        collector: ScriptedCollector,
    ) -> anyhow::Result<TestAgent> {
        Self::enroll_with(server_url, token, None, collector).await
    }

    /// Enrolls as `steward agent enroll --pin` does: over HTTPS the server's certificate
    /// must have the fingerprint `pin`.
    pub async fn enroll_with(
        server_url: &str,
        token: &str,
        pin: Option<CertFingerprint>,
        collector: ScriptedCollector,
    ) -> anyhow::Result<TestAgent> {
        let dir = tempfile::tempdir()?;
        let state = enroll(dir.path(), server_url, token, pin).await?;
        Ok(TestAgent {
            dir,
            collector,
            device_id: state.device_id,
            running: None,
        })
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The agent's stored state (identity, credential, pin) as it is on disk now.
    pub fn state(&self) -> steward_agent::state::AgentState {
        steward_agent::state::AgentState::load(self.dir.path()).unwrap()
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// Starts the agent loop with a check-in every `interval`.
    pub fn start(&mut self, interval: Duration) {
        self.start_with(interval, |_| {});
    }

    /// [`Self::start`] with `adjust` applied to the agent's configuration first (its job
    /// executors, its concurrency limit…).
    pub fn start_with(&mut self, interval: Duration, adjust: impl FnOnce(&mut AgentConfig)) {
        let mut config = AgentConfig::new(self.dir.path());
        config.interval = Some(interval);
        // Posture checks read this machine and run its commands: only the tests about
        // posture turn them on (in `adjust`).
        config.posture = None;
        adjust(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(config, Box::new(self.collector.clone()), async move {
            let _ = stopped.await;
        }));
        self.running = Some((stop, task));
    }

    pub async fn stop(&mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// Reports waiting in the on-disk queue.
    pub fn queued(&self) -> usize {
        std::fs::read_dir(self.outbox_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    }
}
