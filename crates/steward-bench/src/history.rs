//! Metrics history: how much database a device's history takes, and how fast the device
//! page draws a month of it.
//!
//! Fills a database through the store's own ingest and the server's own roll-up task, with
//! a clock the bench moves: a year of samples five minutes apart (100 a check-in, as an
//! agent drains its queue), then the last two days a minute apart, every device checking
//! in once a minute in turn, as a fleet does, with roll-ups and pruning every five minutes.
//! Then it measures each table, and serves the console over this database and times the
//! device page with each chart range.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use steward_core::history::keeping::{DAY_MS, HOUR_MS, MINUTE_MS};
use steward_core::history::{History, Sample};
use steward_core::{DiskIo, FilesystemUsage, Metrics, NetThroughput, Timestamp};
use steward_server::history::rollups::roll_up_due;
use steward_server::secrets::PasswordHashing;
use steward_server::{AppState, Clock, ManualClock, ServerConfig, SystemClock};
use steward_store::{Backend, IngestCommit, MetricHistoryWrite, Store};

use super::stats::{ms, percentile};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Devices with a year of history.
    #[arg(long, default_value_t = 10)]
    devices: u32,
    /// Page renders to time per range.
    #[arg(long, default_value_t = 30)]
    renders: u32,
    /// Database: empty for SQLite in a temporary directory, or postgres://… (an empty
    /// database).
    #[arg(long, default_value = "")]
    database: String,
}

/// A small deterministic generator (xorshift64*), so every run stores the same values.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A typical machine's sample: CPU mostly idle with bursts, memory and disks slowly moving,
/// two filesystems, one disk, two network interfaces (twelve series in all). `dice` makes
/// the values vary as real ones do (which is what a compact record is sensitive to).
pub fn typical_metrics(dice: &mut Dice, at: Timestamp) -> Metrics {
    let busy = dice.next() < 0.1;
    let burst = |dice: &mut Dice, idle: f64, busy_scale: f64| -> u64 {
        let base = idle * (0.5 + dice.next());
        (if busy {
            base + busy_scale * dice.next()
        } else {
            base
        }) as u64
    };
    let day_part = (at.0.rem_euclid(DAY_MS)) as f64 / DAY_MS as f64;
    Metrics {
        cpu_percent: (if busy {
            40.0 + 60.0 * dice.next()
        } else {
            2.0 + 8.0 * dice.next()
        }) as f32,
        memory_used_bytes: ((4.0 + 2.0 * day_part + dice.next()) * (1u64 << 30) as f64) as u64,
        memory_total_bytes: 16 << 30,
        swap_used_bytes: 64 << 20,
        swap_total_bytes: 2 << 30,
        load_1m: (if busy {
            1.0 + 3.0 * dice.next()
        } else {
            0.1 + 0.4 * dice.next()
        }) as f32,
        uptime_secs: (at.0 / 1000).rem_euclid(30 * 86_400) as u64,
        filesystems: vec![
            FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 512 << 30,
                used_bytes: (200 << 30) + (at.0.rem_euclid(DAY_MS) as u64) * 4,
            },
            FilesystemUsage {
                mount_point: "/boot/efi".into(),
                total_bytes: 512 << 20,
                used_bytes: 31 << 20,
            },
        ],
        disks: vec![DiskIo {
            device: "nvme0n1".into(),
            read_bytes_per_sec: burst(dice, 20_000.0, 40_000_000.0),
            write_bytes_per_sec: burst(dice, 120_000.0, 20_000_000.0),
        }],
        networks: vec![
            NetThroughput {
                interface: "eno1".into(),
                rx_bytes_per_sec: burst(dice, 30_000.0, 10_000_000.0),
                tx_bytes_per_sec: burst(dice, 5_000.0, 2_000_000.0),
            },
            NetThroughput {
                interface: "wlan0".into(),
                rx_bytes_per_sec: burst(dice, 200.0, 0.0),
                tx_bytes_per_sec: burst(dice, 100.0, 0.0),
            },
        ],
    }
}

struct Fleet {
    ids: Vec<String>,
    seqs: Vec<u64>,
    dice: Vec<Dice>,
}

impl Fleet {
    /// One check-in of device `d` carrying the samples taken at `times`.
    async fn check_in(
        &mut self,
        store: &Store,
        d: usize,
        times: &[Timestamp],
    ) -> anyhow::Result<()> {
        let samples: Vec<(Timestamp, Metrics)> = times
            .iter()
            .map(|t| (*t, typical_metrics(&mut self.dice[d], *t)))
            .collect();
        let last = *times.last().context("no sample times")?;
        let seq = self.seqs[d];
        store
            .commit_ingest(&IngestCommit {
                device_id: self.ids[d].clone(),
                expected_last_seq: seq,
                new_last_seq: seq + 1,
                seen_at: last,
                inventory: None,
                history: MetricHistoryWrite {
                    samples: samples.iter().map(|(t, m)| Sample::of(*t, m)).collect(),
                    reroll_from: None,
                },
                metrics: samples.last().cloned(),
                changes: Vec::new(),
                software_in_step: true,
                detections: Vec::new(),
                agent_stopping: None,
            })
            .await?;
        self.seqs[d] = seq + 1;
        Ok(())
    }
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let dir = super::ingest::tempfile_dir()?;
    let url = if args.database.is_empty() {
        steward_store::sqlite_url(&dir)
    } else {
        args.database.clone()
    };
    let store = Store::connect(&url).await?;
    let end = Timestamp(SystemClock.now().0.div_euclid(HOUR_MS) * HOUR_MS);
    let start = Timestamp(end.0 - 365 * DAY_MS);
    let clock = Arc::new(ManualClock::new(start));
    let config = ServerConfig {
        password_hashing: PasswordHashing::TestOnlyCheap,
        ..Default::default()
    };
    let keep: History = config.metrics_history;
    let state = AppState::new(store.clone(), clock.clone(), config)?;
    let mut fleet = Fleet {
        ids: Vec::new(),
        seqs: Vec::new(),
        dice: Vec::new(),
    };
    let token = steward_server::admin::create_enroll_token(
        &store,
        args.devices,
        start.plus_millis(3_600_000),
        start,
    )
    .await?;
    let token_hash = steward_server::secrets::token_hash(&token);
    for i in 0..args.devices {
        let id = steward_server::secrets::new_id();
        let new = steward_store::NewDevice {
            id: id.clone(),
            name: format!("ws-{i:03}"),
            credential_hash: steward_server::secrets::token_hash(&format!("{id}.x")),
            checkin_interval_secs: 60,
        };
        store
            .enroll_device(&token_hash, &new, start)
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        fleet.ids.push(id);
        fleet.seqs.push(0);
        fleet.dice.push(Dice::new(u64::from(i) + 1));
    }

    // A year up to two days before the end, five minutes apart, 100 samples a check-in.
    let filled = Instant::now();
    let dense_from = Timestamp(end.0 - 2 * DAY_MS);
    let mut t = start;
    while t < dense_from {
        let times: Vec<Timestamp> = (0..100)
            .map(|i| t.plus_millis(i * 5 * MINUTE_MS))
            .take_while(|x| *x < dense_from)
            .collect();
        let Some(last) = times.last().copied() else {
            break;
        };
        clock.set(last.plus_millis(MINUTE_MS));
        for d in 0..fleet.ids.len() {
            fleet.check_in(&store, d, &times).await?;
        }
        roll_up_due(&state).await?;
        t = last.plus_millis(5 * MINUTE_MS);
    }
    // The last two days: a check-in a minute per device, the fleet in turn.
    let mut t = dense_from;
    while t < end {
        clock.set(t.plus_millis(1_000));
        for d in 0..fleet.ids.len() {
            fleet.check_in(&store, d, &[t]).await?;
        }
        if t.0 % (5 * MINUTE_MS) == 0 {
            roll_up_due(&state).await?;
        }
        t = t.plus_millis(MINUTE_MS);
    }
    clock.set(end);
    roll_up_due(&state).await?;
    println!(
        "history bench: {} devices, a year of history ({} backend), filled in {:.0} s",
        args.devices,
        store.backend().as_str(),
        filled.elapsed().as_secs_f64()
    );
    sizes(&store, &url, args.devices, &keep).await?;
    pages(&store, &state, &fleet.ids[0], args.renders).await?;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Bytes each table takes, per device.
async fn sizes(store: &Store, url: &str, devices: u32, keep: &History) -> anyhow::Result<()> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let mut bytes = std::collections::BTreeMap::new();
    for table in ["metric_samples", "metric_rollups", "metric_series"] {
        let sql = match store.backend() {
            // The pages of the table (WITHOUT ROWID: the primary key is the table) and of
            // its indexes, as SQLite's dbstat counts them.
            Backend::Sqlite => format!(
                "SELECT CAST(COALESCE(SUM(pgsize), 0) AS BIGINT) AS bytes FROM dbstat \
                 WHERE name = '{table}' OR name IN \
                 (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}')"
            ),
            Backend::Postgres => {
                format!("SELECT pg_total_relation_size('{table}')::BIGINT AS bytes")
            }
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await?;
        bytes.insert(table, row.try_get::<i64, _>("bytes")?);
    }
    let mut count = async |sql: &'static str| -> anyhow::Result<i64> {
        Ok(sqlx::query(sql)
            .fetch_one(&mut conn)
            .await?
            .try_get::<i64, _>(0)?)
    };
    let samples = count("SELECT COUNT(*) FROM metric_samples").await?;
    let five = count("SELECT COUNT(*) FROM metric_rollups WHERE width = 300000").await?;
    let hourly = count("SELECT COUNT(*) FROM metric_rollups WHERE width = 3600000").await?;
    let payload = count("SELECT CAST(SUM(LENGTH(vals)) AS BIGINT) FROM metric_samples").await?;
    conn.close().await?;
    let n = f64::from(devices.max(1));
    let per_device = |b: i64| b as f64 / n / 1024.0;
    let samples_per_day = 1440.0;
    let days_kept = samples as f64 / n / samples_per_day;
    println!(
        "  full resolution   {:.0} samples/device ({:.1} days), {:.1} KiB/device, \
         {:.1} KiB per device per day (record {:.0} B/sample)",
        samples as f64 / n,
        days_kept,
        per_device(bytes["metric_samples"]),
        per_device(bytes["metric_samples"]) / days_kept.max(1e-9),
        payload as f64 / samples.max(1) as f64,
    );
    println!(
        "  roll-ups          {:.0} 5-minute ({} days) + {:.0} hourly ({} days) per device: {:.0} KiB/device",
        five as f64 / n,
        keep.five_minutes_ms / DAY_MS,
        hourly as f64 / n,
        keep.hourly_ms / DAY_MS,
        per_device(bytes["metric_rollups"]),
    );
    println!(
        "  series lists      {:.1} KiB/device",
        per_device(bytes["metric_series"])
    );
    Ok(())
}

/// Serves the console over the filled database and times the first device's page.
async fn pages(store: &Store, state: &AppState, device: &str, renders: u32) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(steward_server::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (user, password) = super::bench_admin(store).await?;
    let resp = http
        .post(format!("{url}/login"))
        .form(&[("username", user.as_str()), ("password", password.as_str())])
        .send()
        .await?;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_string();
    for range in ["1h", "24h", "7d", "30d", "1y"] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..renders {
            let t = Instant::now();
            let resp = http
                .get(format!("{url}/devices/{device}?mr={range}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "{range}: {}", resp.status());
            let body = resp.bytes().await?;
            times.push(t.elapsed());
            anyhow::ensure!(
                body.windows(14).any(|w| w == b"<svg class=\"ch"),
                "{range}: no chart drawn"
            );
            size = body.len();
        }
        times.sort();
        println!(
            "  device page, {range:<4} charts  p50 {}  p99 {}  ({} KiB)",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 99.0)),
            size / 1024
        );
    }
    server.abort();
    Ok(())
}
