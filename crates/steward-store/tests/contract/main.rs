//! The store's contract: every public method, on SQLite and (with `STEWARD_TEST_PG_URL`) on
//! PostgreSQL, each test on a database of its own. Run one backend with
//! `cargo test -p steward-store --test contract ::sqlite` (or `::postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeSet;

use steward_core::device::DeviceStatus;
use steward_core::enroll::TokenProblem;
use steward_core::{
    Account, ChangeEvent, ChangeKind, FilesystemUsage, Hardware, Inventory, JobKind, JobState,
    Metrics, OsInfo, Package, PackageSource, Scope, Timestamp,
};
use steward_store::{
    ApiTokenRecord, Backend, ChangeRecord, DeviceFilter, DeviceRecord, DeviceSortKey,
    EnrollTokenRecord, IngestCommit, InventoryWrite, JobRecord, JobUpdateOutcome, NewDevice,
    NewUser, SessionRecord, SoftwareRecord, SoftwareWrite, Store, StoreError,
};

use common::TestDb;

/// The store as the system sees it (every device), for tests of what the reads return; the
/// scopes themselves are tested in `security.rs`.
trait AllDevicesView {
    fn all(&self) -> steward_store::ScopedStore<'_>;
}

impl AllDevicesView for steward_store::Store {
    fn all(&self) -> steward_store::ScopedStore<'_> {
        static ALL: Scope = Scope::AllDevices;
        self.scoped(&ALL)
    }
}

mod accounts;
mod alert_rules;
mod audit;
mod backup_runs;
mod backups;
mod credentials;
mod detection;
mod devices;
mod enrollment;
mod hardening;
mod history;
mod ingest;
mod jobs;
mod leases;
mod migrations;
mod monitoring;
mod patching;
mod posture;
mod posture_records;
mod scheduler;
mod schema;
mod security;
mod telemetry;
mod throttling;

// Helpers shared by the sections.

fn ts(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn token(id: &str, hash: &str, uses_left: i64, expires_at: i64) -> EnrollTokenRecord {
    EnrollTokenRecord {
        id: id.to_string(),
        token_hash: hash.to_string(),
        uses_left,
        expires_at: ts(expires_at),
        created_at: ts(0),
    }
}

fn new_device(id: &str, name: &str, interval: i64) -> NewDevice {
    NewDevice {
        id: id.to_string(),
        name: name.to_string(),
        credential_hash: format!("cred-{id}"),
        checkin_interval_secs: interval,
    }
}

/// Enrolls a device through a token of its own.
async fn enroll_at(store: &Store, id: &str, name: &str, at: i64, interval: i64) -> DeviceRecord {
    let hash = format!("tok-{id}");
    store
        .create_enroll_token(&token(&format!("et-{id}"), &hash, 1, i64::MAX))
        .await
        .unwrap();
    store
        .enroll_device(&hash, &new_device(id, name, interval), ts(at))
        .await
        .unwrap()
        .unwrap()
}

async fn enroll(store: &Store, id: &str, name: &str) -> DeviceRecord {
    enroll_at(store, id, name, 1_000, 60).await
}

async fn device_count(store: &Store) -> u64 {
    let filter = DeviceFilter {
        limit: 100,
        ..Default::default()
    };
    store.all().list_devices(&filter).await.unwrap().1
}

fn pkg(name: &str, version: &str, arch: &str, source: PackageSource) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        source,
    }
}

fn deb(name: &str, version: &str) -> Package {
    pkg(name, version, "amd64", PackageSource::Dpkg)
}

fn inventory(os_name: &str, os_version: &str, packages: Vec<Package>) -> Inventory {
    let mut inv = Inventory {
        hostname: "host".to_string(),
        os: OsInfo {
            family: "linux".to_string(),
            name: os_name.to_string(),
            version: os_version.to_string(),
            kernel: "6.1.0".to_string(),
            arch: "x86_64".to_string(),
        },
        boot_time: 1_700_000_000,
        hardware: Hardware {
            cpu_model: "Test CPU".to_string(),
            cpu_cores: 4,
            memory_bytes: 8 << 30,
            ..Default::default()
        },
        packages,
        accounts: vec![Account {
            name: "root".to_string(),
            is_admin: true,
            can_login: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    inv.normalize();
    inv
}

fn metrics(cpu: f32, used: u64) -> Metrics {
    Metrics {
        cpu_percent: cpu,
        memory_used_bytes: used,
        memory_total_bytes: 8 << 30,
        swap_used_bytes: 0,
        load_1m: 0.5,
        uptime_secs: 3600,
        filesystems: vec![FilesystemUsage {
            mount_point: "/".to_string(),
            total_bytes: 100 << 30,
            used_bytes: 42 << 30,
        }],
        ..Default::default()
    }
}

fn event(kind: ChangeKind, subject: &str, from: Option<&str>, to: Option<&str>) -> ChangeEvent {
    ChangeEvent {
        kind,
        subject: subject.to_string(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    }
}

/// A commit with nothing but the sequence number and the time seen.
fn bare_commit(device_id: &str, expected: u64, new: u64, seen_at: i64) -> IngestCommit {
    IngestCommit {
        device_id: device_id.to_string(),
        expected_last_seq: expected,
        new_last_seq: new,
        seen_at: ts(seen_at),
        inventory: None,
        metrics: None,
        history: Default::default(),
        changes: Vec::new(),
        software_in_step: true,
        detections: Vec::new(),
        agent_stopping: None,
    }
}

/// Records a check-in of the device at `at` (the next sequence number).
async fn check_in(store: &Store, id: &str, at: i64) {
    let seq = store
        .device_ingest_state(id)
        .await
        .unwrap()
        .unwrap()
        .last_seq;
    store
        .commit_ingest(&bare_commit(id, seq, seq + 1, at))
        .await
        .unwrap();
}

/// Stores a full inventory with this OS for the device, seen at `at`.
async fn report_os(store: &Store, id: &str, os_name: &str, os_version: &str, at: i64) {
    let seq = store
        .device_ingest_state(id)
        .await
        .unwrap()
        .unwrap()
        .last_seq;
    let mut c = bare_commit(id, seq, seq + 1, at);
    c.inventory = Some(InventoryWrite::new(
        inventory(os_name, os_version, Vec::new()),
        SoftwareWrite::Replace,
    ));
    store.commit_ingest(&c).await.unwrap();
}

async fn software_names(store: &Store, id: &str, search: Option<&str>) -> Vec<String> {
    let (items, total) = store.all().software(id, search, 0, 10_000).await.unwrap();
    assert_eq!(items.len() as u64, total, "search {search:?}");
    items.into_iter().map(|s| s.name).collect()
}

async fn all_changes(store: &Store, id: &str) -> Vec<ChangeRecord> {
    store.all().changes(id, None, 0, 1_000).await.unwrap().0
}

fn job(id: &str, device_id: &str, created_at: i64) -> JobRecord {
    JobRecord {
        id: id.to_string(),
        device_id: device_id.to_string(),
        kind: JobKind::CollectInventory,
        params: serde_json::json!({ "reason": "test", "n": [1, 2, 3], "nested": { "ok": true } }),
        state: JobState::Queued,
        message: String::new(),
        output: String::new(),
        requested_by: "admin".to_string(),
        created_at: ts(created_at),
        updated_at: ts(created_at),
        deadline_at: JobKind::CollectInventory.deadline_for(ts(created_at)),
    }
}

fn ids(devices: &[DeviceRecord]) -> Vec<&str> {
    devices.iter().map(|d| d.id.as_str()).collect()
}

fn new_user(id: &str, username: &str) -> NewUser {
    NewUser {
        id: id.to_string(),
        username: username.to_string(),
        password_hash: format!("argon2-{id}"),
        role: "admin".to_string(),
        must_change_password: false,
    }
}

fn session(hash: &str, user_id: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        token_hash: hash.to_string(),
        user_id: user_id.to_string(),
        csrf_token: format!("csrf-{hash}"),
        created_at: ts(1_000),
        last_seen_at: ts(1_000),
        expires_at: ts(expires_at),
        source: "127.0.0.1".to_string(),
        reauth_at: ts(1_000),
    }
}

fn api_token(id: &str, created_at: i64) -> ApiTokenRecord {
    ApiTokenRecord {
        id: id.to_string(),
        name: format!("token {id}"),
        token_hash: format!("sha-{id}"),
        // Round-trip a role and an expiry on one of them.
        role: if id == "t1" { "viewer" } else { "admin" }.to_string(),
        expires_at: (id == "t1").then(|| ts(99_000)),
        created_at: ts(created_at),
        last_used_at: None,
        revoked_at: None,
        created_by: None,
    }
}
