//! A console to look at: a server on a throwaway SQLite database with a made-up fleet of
//! about 60 Linux machines (online, offline, never reported, revoked; full disks; software,
//! accounts, listeners, a change history and jobs), so every page has something to show.
//!
//! ```text
//! cargo run -p steward-server --example console_demo [-- 127.0.0.1:8080] [--empty]
//! ```
//!
//! `--empty` starts with no devices, to see the first-run pages.
//! It prints the address and the sign-in (`admin` / `steward-demo`) and serves until Ctrl-C.
//! Nothing is kept: the database lives in a temporary directory.

use std::net::SocketAddr;

use steward_core::{
    Account, Filesystem, FilesystemUsage, Hardware, Inventory, JobKind, JobState, Listener,
    Metrics, NetInterface, OsInfo, Package, PackageSource, Protocol, Timestamp, changes_between,
};
use steward_server::secrets::{PasswordHashing, new_id, token_hash};
use steward_server::{Clock, ServerConfig, SystemClock};
use steward_store::{
    EnrollTokenRecord, IngestCommit, InventoryWrite, NewDevice, NewUser, SoftwareWrite, Store,
};

const PASSWORD: &str = "steward-demo";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let empty = args.iter().any(|a| a == "--empty");
    let addr: SocketAddr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:0", String::as_str)
        .parse()?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
    let store = Store::connect(&url).await?;
    let config = ServerConfig::default();
    seed(&store, config.password_hashing, empty).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("Console:  http://{}", listener.local_addr()?);
    println!("Sign in:  admin / {PASSWORD}");
    let state = steward_server::state(store, config)?;
    steward_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// A tiny deterministic generator, so the fleet looks the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

async fn seed(store: &Store, hashing: PasswordHashing, empty: bool) -> anyhow::Result<()> {
    let now = SystemClock.now();
    store
        .create_user(
            &NewUser {
                id: new_id(),
                username: "admin".into(),
                password_hash: hashing.hash(PASSWORD)?,
                role: "admin".into(),
                must_change_password: false,
            },
            now,
        )
        .await?;
    if empty {
        return Ok(());
    }
    let token = "demo-enrollment-token";
    store
        .create_enroll_token(&EnrollTokenRecord {
            id: new_id(),
            token_hash: token_hash(token),
            uses_left: 1000,
            expires_at: now.plus_millis(DAY),
            created_at: now.plus_millis(-400 * DAY),
        })
        .await?;
    let mut dice = Dice(7);
    let names = fleet_names();
    for (i, name) in names.iter().enumerate() {
        let enrolled = now.plus_millis(-(dice.next(300) as i64 + 2) * DAY - i as i64 * HOUR);
        let id = new_id();
        store
            .enroll_device(
                &token_hash(token),
                &NewDevice {
                    id: id.clone(),
                    name: name.to_string(),
                    credential_hash: token_hash(&new_id()),
                    checkin_interval_secs: 60,
                },
                enrolled,
            )
            .await?
            .map_err(|p| anyhow::anyhow!("enrollment refused: {p:?}"))?;
        let role = if name.starts_with("srv") {
            "server"
        } else {
            "workstation"
        };
        let site = dice.pick(&["hq", "hq", "warehouse", "shop"]);
        store
            .set_device_tags(&id, &[role.to_string(), site.to_string()])
            .await?;
        // A few never report, a few went silent, one was revoked; the rest are online.
        match i % 17 {
            5 => continue,
            11 => {
                store.revoke_device(&id, now.plus_millis(-3 * DAY)).await?;
                continue;
            }
            _ => {}
        }
        let last_seen = match i % 9 {
            3 => now.plus_millis(-(dice.next(72) as i64 + 1) * HOUR),
            7 if i > 20 => now.plus_millis(-(dice.next(50) as i64 + 10) * MINUTE),
            _ => now.plus_millis(-(dice.next(40) as i64) * 1000),
        };
        report(store, &id, name, enrolled, last_seen, &mut dice).await?;
    }
    Ok(())
}

/// Two reports: the first inventory at enrollment, then today's, with the differences as
/// the device's change history.
async fn report(
    store: &Store,
    id: &str,
    name: &str,
    enrolled: Timestamp,
    last_seen: Timestamp,
    dice: &mut Dice,
) -> anyhow::Result<()> {
    let before = inventory(name, dice);
    let after = {
        let mut inv = before.clone();
        evolve(&mut inv, dice);
        inv
    };
    let first = enrolled.plus_millis(5_000);
    store
        .commit_ingest(&IngestCommit {
            device_id: id.to_string(),
            expected_last_seq: 0,
            new_last_seq: 1,
            seen_at: first,
            inventory: Some(InventoryWrite::new(before.clone(), SoftwareWrite::Replace)),
            metrics: None,
            history: Default::default(),
            changes: Vec::new(),
            software_in_step: true,
            detections: Vec::new(),
            agent_stopping: None,
        })
        .await?;
    // Spread the differences between enrollment and the last check-in, oldest first.
    let events = changes_between(&before, &after);
    let span = last_seen.since(first).max(1);
    let count = events.len().max(1) as i64;
    let changes = events
        .into_iter()
        .enumerate()
        .map(|(k, e)| (first.plus_millis(span * (k as i64 + 1) / (count + 1)), e))
        .collect();
    let root = after.filesystems.first().map_or(0, |f| f.total_bytes);
    let fill = [35, 48, 62, 71, 84, 93][dice.next(6) as usize];
    let mut usage = vec![FilesystemUsage {
        mount_point: "/".into(),
        total_bytes: root,
        used_bytes: root / 100 * fill,
    }];
    if let Some(data) = after.filesystems.get(1) {
        usage.push(FilesystemUsage {
            mount_point: data.mount_point.clone(),
            total_bytes: data.total_bytes,
            used_bytes: data.total_bytes / 100 * (20 + dice.next(60)),
        });
    }
    let memory = after.hardware.memory_bytes;
    let boot_time = after.boot_time;
    store
        .commit_ingest(&IngestCommit {
            device_id: id.to_string(),
            expected_last_seq: 1,
            new_last_seq: 2,
            seen_at: last_seen,
            inventory: Some(InventoryWrite::new(after, SoftwareWrite::Replace)),
            metrics: Some((
                last_seen,
                Metrics {
                    cpu_percent: dice.next(40) as f32,
                    memory_used_bytes: memory / 100 * (25 + dice.next(60)),
                    memory_total_bytes: memory,
                    swap_used_bytes: 0,
                    load_1m: 0.4,
                    uptime_secs: (last_seen.secs() - boot_time).max(60) as u64,
                    filesystems: usage,
                    ..Default::default()
                },
            )),
            history: Default::default(),
            changes,
            software_in_step: true,
            detections: Vec::new(),
            agent_stopping: None,
        })
        .await?;
    if dice.next(3) == 0 {
        let job = steward_server::admin::new_job(
            id,
            JobKind::CollectInventory,
            "user:admin",
            last_seen.plus_millis(-2 * HOUR),
        );
        store
            .create_job(&steward_store::JobRecord {
                state: JobState::Succeeded,
                message: "inventory reported".into(),
                updated_at: job.created_at.plus_millis(1_200),
                ..job
            })
            .await?;
    }
    Ok(())
}

fn fleet_names() -> Vec<String> {
    let people = [
        "anna", "bruno", "carla", "dario", "elena", "fabio", "giulia", "hugo", "irene", "jonas",
        "karin", "luca", "marta", "nina", "oscar", "paola", "quinn", "rosa", "sven", "tina", "ugo",
        "vera", "walter", "xenia", "yusuf", "zoe",
    ];
    let mut names: Vec<String> = people.iter().map(|p| format!("ws-{p}")).collect();
    names.extend(
        [
            "srv-files",
            "srv-erp",
            "srv-backup",
            "srv-print",
            "srv-db01",
            "srv-db02",
            "srv-web",
            "srv-mail",
            "srv-vpn",
            "srv-monitor",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    names.extend((1..=24).map(|n| format!("floor-pc-{n:02}")));
    names
}

fn inventory(name: &str, dice: &mut Dice) -> Inventory {
    let server = name.starts_with("srv");
    let (os, kernel, source) = match dice.next(5) {
        0 | 1 => (
            ("Debian GNU/Linux", "12"),
            "6.1.0-25-amd64",
            PackageSource::Dpkg,
        ),
        2 => (("Ubuntu", "24.04"), "6.8.0-45-generic", PackageSource::Dpkg),
        3 if server => (("Rocky Linux", "9.4"), "5.14.0-427.el9", PackageSource::Rpm),
        3 => (
            ("Fedora Linux", "40"),
            "6.10.6-200.fc40",
            PackageSource::Rpm,
        ),
        _ => (
            ("Ubuntu", "22.04"),
            "5.15.0-119-generic",
            PackageSource::Dpkg,
        ),
    };
    let (vendor, model, cpu) = if server {
        (
            "Dell Inc.",
            "PowerEdge R250",
            "Intel(R) Xeon(R) E-2314 CPU @ 2.80GHz",
        )
    } else {
        match dice.next(3) {
            0 => (
                "LENOVO",
                "ThinkCentre M720q",
                "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz",
            ),
            1 => (
                "HP",
                "EliteDesk 800 G6",
                "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz",
            ),
            _ => (
                "Dell Inc.",
                "OptiPlex 7090",
                "Intel(R) Core(TM) i5-10505 CPU @ 3.20GHz",
            ),
        }
    };
    let mut filesystems = vec![Filesystem {
        mount_point: "/".into(),
        device: "/dev/nvme0n1p2".into(),
        fs_type: if source == PackageSource::Rpm {
            "xfs"
        } else {
            "ext4"
        }
        .into(),
        total_bytes: [128u64, 256, 512][dice.next(3) as usize] << 30,
    }];
    let mut listeners = vec![Listener {
        protocol: Protocol::Tcp,
        address: "0.0.0.0".into(),
        port: 22,
        process: "sshd".into(),
        pid: Some(700 + dice.next(200) as u32),
    }];
    listeners.push(Listener {
        protocol: Protocol::Udp,
        address: "127.0.0.53".into(),
        port: 53,
        process: "systemd-resolve".into(),
        pid: Some(480),
    });
    if server {
        filesystems.push(Filesystem {
            mount_point: "/srv".into(),
            device: "/dev/md0".into(),
            fs_type: "ext4".into(),
            total_bytes: 4 << 40,
        });
        listeners.push(Listener {
            protocol: Protocol::Tcp,
            address: "127.0.0.1".into(),
            port: 5432,
            process: "postgres".into(),
            pid: Some(1204),
        });
        listeners.push(Listener {
            protocol: Protocol::Tcp,
            address: "::".into(),
            port: 443,
            process: "nginx".into(),
            pid: Some(1322),
        });
    }
    let user = name.trim_start_matches("ws-").trim_start_matches("srv-");
    let mut inv = Inventory {
        hostname: format!("{name}.office.example"),
        os: OsInfo {
            family: "linux".into(),
            name: os.0.into(),
            version: os.1.into(),
            kernel: kernel.into(),
            arch: "x86_64".into(),
        },
        boot_time: SystemClock.now().secs() - 3600 * (2 + dice.next(900) as i64),
        hardware: Hardware {
            cpu_model: cpu.into(),
            cpu_cores: [4u32, 8, 12, 16][dice.next(4) as usize],
            memory_bytes: [8u64, 16, 32, 64][dice.next(4) as usize] << 30,
            vendor: vendor.into(),
            model: model.into(),
            serial: format!("SN{:08X}", dice.next(u64::from(u32::MAX))),
        },
        filesystems,
        interfaces: vec![
            NetInterface {
                name: "lo".into(),
                mac: String::new(),
                addresses: vec!["127.0.0.1/8".into(), "::1/128".into()],
            },
            NetInterface {
                name: "eno1".into(),
                mac: format!(
                    "8c:16:45:{:02x}:{:02x}:{:02x}",
                    dice.next(256),
                    dice.next(256),
                    dice.next(256)
                ),
                addresses: vec![
                    format!("192.168.10.{}/24", 10 + dice.next(200)),
                    format!(
                        "fe80::8e16:45ff:fe{:02x}:{:02x}{:02x}/64",
                        dice.next(256),
                        dice.next(256),
                        dice.next(256)
                    ),
                ],
            },
        ],
        packages: packages(source, server, dice),
        accounts: accounts(user, server),
        listeners,
    };
    inv.normalize();
    inv
}

/// Today's version of a machine: upgrades, an install, a removal, maybe a new admin.
fn evolve(inv: &mut Inventory, dice: &mut Dice) {
    for p in inv.packages.iter_mut() {
        if dice.next(12) == 0 {
            p.version = format!("{}+deb12u{}", p.version, 1 + dice.next(3));
        }
    }
    if !inv.packages.is_empty() {
        let gone = dice.next(inv.packages.len() as u64) as usize;
        inv.packages.remove(gone);
    }
    inv.packages.push(Package {
        name: "anydesk".into(),
        version: "6.3.2".into(),
        arch: "amd64".into(),
        source: PackageSource::Dpkg,
    });
    inv.os.kernel = inv
        .os
        .kernel
        .replace("-25-", "-26-")
        .replace("-45-", "-47-");
    if dice.next(4) == 0 {
        inv.accounts.push(Account {
            name: "support".into(),
            uid: 1001,
            gid: 1001,
            home: "/home/support".into(),
            shell: "/bin/bash".into(),
            is_admin: true,
            can_login: true,
        });
    }
    inv.normalize();
}

fn packages(source: PackageSource, server: bool, dice: &mut Dice) -> Vec<Package> {
    let arch = if source == PackageSource::Dpkg {
        "amd64"
    } else {
        "x86_64"
    };
    let mut names: Vec<String> = [
        "bash",
        "coreutils",
        "curl",
        "openssh-server",
        "openssl",
        "sudo",
        "systemd",
        "tzdata",
        "vim",
        "wget",
        "ca-certificates",
        "cron",
        "rsyslog",
        "apt",
        "gnupg",
        "less",
        "tar",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let extra: &[&str] = if server {
        &[
            "nginx",
            "postgresql-16",
            "borgbackup",
            "fail2ban",
            "samba",
            "cups",
            "unattended-upgrades",
        ]
    } else {
        &[
            "firefox-esr",
            "libreoffice-writer",
            "libreoffice-calc",
            "thunderbird",
            "cups",
            "network-manager",
            "gnome-shell",
            "evince",
            "vlc",
        ]
    };
    names.extend(extra.iter().map(|s| s.to_string()));
    let libs = 120 + dice.next(260);
    names.extend((0..libs).map(|n| {
        let stem = [
            "libglib",
            "libgtk",
            "libssl",
            "libx11",
            "libpython3",
            "libstdc++",
            "libxml",
            "libnss",
            "libgnutls",
            "libsqlite3",
        ][n as usize % 10];
        format!("{stem}-{}", n / 10)
    }));
    names
        .into_iter()
        .map(|name| Package {
            version: format!(
                "{}.{}.{}-{}",
                1 + dice.next(9),
                dice.next(20),
                dice.next(10),
                1 + dice.next(3)
            ),
            name,
            arch: arch.into(),
            source,
        })
        .collect()
}

fn accounts(user: &str, server: bool) -> Vec<Account> {
    let mut list = vec![Account {
        name: "root".into(),
        uid: 0,
        gid: 0,
        home: "/root".into(),
        shell: "/bin/bash".into(),
        is_admin: true,
        can_login: true,
    }];
    for (name, uid) in [
        ("daemon", 1),
        ("bin", 2),
        ("sys", 3),
        ("www-data", 33),
        ("nobody", 65534),
    ] {
        list.push(Account {
            name: name.into(),
            uid,
            gid: uid,
            home: "/nonexistent".into(),
            shell: "/usr/sbin/nologin".into(),
            is_admin: false,
            can_login: false,
        });
    }
    list.push(Account {
        name: if server {
            "itadmin".into()
        } else {
            user.to_string()
        },
        uid: 1000,
        gid: 1000,
        home: format!("/home/{}", if server { "itadmin" } else { user }),
        shell: "/bin/bash".into(),
        is_admin: server,
        can_login: true,
    });
    list
}
