//! Stress: a well-behaved fleet and a person at the console, first alone, then while one
//! enrolled agent sends the largest reports the limits allow in a loop and an anonymous
//! client holds as many half-open connections as it can. Both phases run against one real
//! `steward server` process in one run, so their figures compare.
//!
//! Sources are separate loopback addresses, as they would be separate machines: the fleet
//! and the person from 127.0.0.1, the hostile agent from 127.0.0.3, the anonymous client
//! from 127.0.0.2 (all of 127.0.0.0/8 is this machine on Linux).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use steward_core::limits::{MAX_PACKAGES, MAX_TEXT_CHARS};
use steward_core::{Inventory, Package, PackageSource, Timestamp};
use steward_proto::agent::{InventoryUpdate, Report, ReportBatch};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use super::stats::{ms, percentile, rss_kib};

#[derive(Debug, Args)]
pub struct StressArgs {
    /// Well-behaved simulated agents.
    #[arg(long, default_value_t = 1000)]
    agents: u32,
    /// Their check-ins per second, all together (1,000 agents at 5 s intervals: 200/s).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds measured in each phase.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Most half-open connections the anonymous client keeps trying to hold (more than the
    /// server's 1,024 per address; the bench needs an open-file limit above it).
    #[arg(long, default_value_t = 1500)]
    half_open: usize,
}

const FLEET_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const ANONYMOUS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const HOSTILE_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// What the well-behaved side saw in one phase.
#[derive(Default)]
struct Side {
    check_ins: Vec<Duration>,
    check_in_errors: u64,
    pages: Vec<Duration>,
    page_errors: u64,
}

/// What the attackers managed.
#[derive(Default)]
struct Attack {
    reports_accepted: AtomicU64,
    reports_refused: AtomicU64,
    report_bytes: AtomicU64,
    connections_opened: AtomicU64,
    connections_held_peak: AtomicU64,
}

pub async fn run(steward: &super::server::Steward, args: StressArgs) -> anyhow::Result<()> {
    let dir = super::ingest::tempfile_dir()?;
    let url_db = steward_store::sqlite_url(&dir);
    // The person's account, made before the server starts (a known password, already
    // changed, so the console opens straight away).
    let store = steward_store::Store::connect(&url_db).await?;
    let (user, password) = super::bench_admin(&store).await?;
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    let token = steward_server::admin::create_enroll_token(
        &store,
        args.agents + 1,
        now.plus_millis(3_600_000),
        now,
    )
    .await?;
    store.close().await;
    let (mut server, url) = steward.spawn(&dir, None).await?;
    let pid = server.id().context("server pid")?;
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .parse()
        .context("server address")?;

    let fleet_http = client(FLEET_ADDR, 256)?;
    let mut creds = Vec::new();
    for i in 0..args.agents {
        creds.push(enroll(&fleet_http, &url, &token, &format!("sim-{i:05}")).await?);
    }
    let hostile_http = client(HOSTILE_ADDR, 4)?;
    let hostile = enroll(&hostile_http, &url, &token, "hostile").await?;
    let cookie = sign_in(&fleet_http, &url, &user, &password).await?;
    let creds = Arc::new(creds);
    let seqs: Arc<Vec<AtomicU64>> = Arc::new((0..args.agents).map(|_| AtomicU64::new(0)).collect());

    println!(
        "stress bench: SQLite, {} agents checking in {}/s in all, a person loading the dashboard, {} s a phase",
        args.agents, args.rate, args.seconds
    );
    let quiet = measure(&args, &fleet_http, &url, &creds, &seqs, &cookie).await;
    let (_, quiet_peak) = rss_kib(pid).unwrap_or_default();

    let attack = Arc::new(Attack::default());
    let stop = Arc::new(AtomicBool::new(false));
    let attackers = vec![
        tokio::spawn(hostile_agent(
            hostile_http,
            url.clone(),
            hostile,
            attack.clone(),
            stop.clone(),
        )),
        tokio::spawn(half_open(
            addr,
            args.half_open,
            attack.clone(),
            stop.clone(),
        )),
    ];
    let attacked = measure(&args, &fleet_http, &url, &creds, &seqs, &cookie).await;
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.abort();
        let _ = a.await;
    }
    let (_, peak) = rss_kib(pid).unwrap_or_default();

    print_phase("quiet", &quiet);
    print_phase("attacked", &attacked);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    println!(
        "  p99 attacked / quiet: check-in {:.2}×, dashboard {:.2}×",
        ratio(
            percentile(&attacked.check_ins, 99.0),
            percentile(&quiet.check_ins, 99.0)
        ),
        ratio(
            percentile(&attacked.pages, 99.0),
            percentile(&quiet.pages, 99.0)
        ),
    );
    println!(
        "  hostile agent: {} reports accepted ({:.0} MiB), {} refused",
        attack.reports_accepted.load(Ordering::Relaxed),
        attack.report_bytes.load(Ordering::Relaxed) as f64 / (1 << 20) as f64,
        attack.reports_refused.load(Ordering::Relaxed),
    );
    println!(
        "  anonymous client: {} connections opened, at most {} held at once",
        attack.connections_opened.load(Ordering::Relaxed),
        attack.connections_held_peak.load(Ordering::Relaxed)
    );
    println!(
        "  server peak RSS: {} MiB quiet, {} MiB over the whole run",
        quiet_peak / 1024,
        peak / 1024
    );
    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn print_phase(label: &str, side: &Side) {
    let mut c = side.check_ins.clone();
    c.sort();
    let mut p = side.pages.clone();
    p.sort();
    println!(
        "  {label:9} check-ins {:6} p50 {:>10} p99 {:>10} errors {:3} | dashboard {:4} p50 {:>10} p99 {:>10} errors {}",
        c.len(),
        ms(percentile(&c, 50.0)),
        ms(percentile(&c, 99.0)),
        side.check_in_errors,
        p.len(),
        ms(percentile(&p, 50.0)),
        ms(percentile(&p, 99.0)),
        side.page_errors
    );
}

fn client(from: Ipv4Addr, idle: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .pool_max_idle_per_host(idle)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()?)
}

async fn enroll(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
) -> anyhow::Result<String> {
    let resp: serde_json::Value = http
        .post(format!("{url}/agent/v1/enroll"))
        .json(&serde_json::json!({"token": token, "hostname": name}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(resp["credential"].as_str().unwrap_or_default().to_string())
}

async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let resp = http
        .post(format!("{url}/login"))
        .form(&[("username", user), ("password", password)])
        .send()
        .await?;
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("steward_session"))
        .or_else(|| {
            resp.headers()
                .get("set-cookie")
                .and_then(|c| c.to_str().ok())
        })
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .context("no session cookie after signing in")
}

/// One phase: check-ins paced at `rate` a second (each on its own task, at most 512 in
/// flight), and the dashboard loaded one after another, for `seconds`.
async fn measure(
    args: &StressArgs,
    http: &reqwest::Client,
    url: &str,
    creds: &Arc<Vec<String>>,
    seqs: &Arc<Vec<AtomicU64>>,
    cookie: &str,
) -> Side {
    let end = Instant::now() + Duration::from_secs(args.seconds);
    let person = {
        let (http, url, cookie) = (http.clone(), url.to_string(), cookie.to_string());
        tokio::spawn(async move {
            let (mut pages, mut errors) = (Vec::new(), 0);
            while Instant::now() < end {
                let t = Instant::now();
                let ok = match http
                    .get(format!("{url}/"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if ok {
                    pages.push(t.elapsed());
                } else {
                    errors += 1;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (pages, errors)
        })
    };
    let in_flight = Arc::new(Semaphore::new(512));
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut next = 0usize;
    while Instant::now() < end {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let d = next % creds.len();
        next += 1;
        let seq = seqs[d].fetch_add(1, Ordering::Relaxed) + 1;
        let (http, url, creds) = (http.clone(), url.to_string(), creds.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            let ok = http
                .post(format!("{url}/agent/v1/reports"))
                .bearer_auth(&creds[d])
                .json(&ReportBatch {
                    reports: vec![super::ingest::check_in(seq)],
                    capabilities: None,
                })
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            (t.elapsed(), ok)
        }));
    }
    let mut side = Side::default();
    for t in tasks {
        match t.await {
            Ok((d, true)) => side.check_ins.push(d),
            _ => side.check_in_errors += 1,
        }
    }
    if let Ok((pages, errors)) = person.await {
        side.pages = pages;
        side.page_errors = errors;
    }
    side.check_ins.sort();
    side.pages.sort();
    side
}

/// The largest valid full inventory a delivery may carry: as many packages as the limits
/// allow, with texts long enough to bring the body near the 4 MiB delivery limit. `round` changes
/// every version, so each accepted report is also a maximal change (20,000 upgrades).
fn heaviest_report(seq: u64, round: u64) -> Report {
    let text = |c: char, n: usize| c.to_string().repeat(n);
    let mut inv = Inventory {
        hostname: text('h', MAX_TEXT_CHARS),
        ..Default::default()
    };
    inv.hardware.serial = text('s', MAX_TEXT_CHARS);
    inv.packages = (0..MAX_PACKAGES)
        .map(|i| Package {
            name: format!("{i:06}{}", text('p', 60)),
            version: format!("{round}-{}", text('v', 60)),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        })
        .collect();
    inv.normalize();
    Report {
        observations: None,
        posture: None,
        updates: None,
        seq,
        collected_at: Timestamp(1_700_000_000_000),
        metrics: None,
        inventory: Some(InventoryUpdate::Full {
            inventory: Box::new(inv),
        }),
        summarised: 0,
        detections: Vec::new(),
        stopping: false,
    }
}

/// Sends the heaviest report in a loop, as fast as the server answers (a refusal — the rate
/// limit — is answered at once, and the loop goes straight on).
async fn hostile_agent(
    http: reqwest::Client,
    url: String,
    credential: String,
    attack: Arc<Attack>,
    stop: Arc<AtomicBool>,
) {
    let bodies: Vec<Vec<u8>> = (0..2)
        .map(|round| {
            serde_json::to_vec(&ReportBatch {
                reports: vec![heaviest_report(1, round)],
                capabilities: None,
            })
            .unwrap_or_default()
        })
        .collect();
    let mut seq = 1u64;
    let mut body = bodies[1].clone();
    while !stop.load(Ordering::Relaxed) {
        let len = body.len() as u64;
        let accepted = http
            .post(format!("{url}/agent/v1/reports"))
            .bearer_auth(&credential)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if accepted {
            attack.reports_accepted.fetch_add(1, Ordering::Relaxed);
            attack.report_bytes.fetch_add(len, Ordering::Relaxed);
            // The next one changes every package (the sequence number leads the report).
            seq += 1;
            body = String::from_utf8_lossy(&bodies[(seq % 2) as usize])
                .replacen("\"seq\":1,", &format!("\"seq\":{seq},"), 1)
                .into_bytes();
        } else {
            attack.reports_refused.fetch_add(1, Ordering::Relaxed);
            // Ignoring Retry-After, but not in a busy loop: on this bench's two shared cores
            // the attacker's own CPU would otherwise be what slows the server.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Opens connections that send half a request and then nothing, up to `most`, reopening
/// whatever the server closes.
async fn half_open(server: SocketAddr, most: usize, attack: Arc<Attack>, stop: Arc<AtomicBool>) {
    let held = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(most));
    while !stop.load(Ordering::Relaxed) {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (held, attack) = (held.clone(), attack.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                return;
            };
            if socket
                .bind(SocketAddr::new(IpAddr::V4(ANONYMOUS_ADDR), 0))
                .is_err()
            {
                return;
            }
            let Ok(mut stream) = socket.connect(server).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return;
            };
            attack.connections_opened.fetch_add(1, Ordering::Relaxed);
            if stream
                .write_all(
                    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 30000000\r\n",
                )
                .await
                .is_err()
            {
                return;
            }
            // Held if the server has not closed it within a second (over a connection
            // limit it is closed at once): counted while it stays open.
            let mut buf = [0u8; 256];
            let early = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
            )
            .await;
            if early.is_ok() {
                // Refused: pause before this slot tries again, so the bench measures the
                // server rather than its own busy loop on two cores.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            let now = held.fetch_add(1, Ordering::Relaxed) + 1;
            attack
                .connections_held_peak
                .fetch_max(now, Ordering::Relaxed);
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            held.fetch_sub(1, Ordering::Relaxed);
        });
    }
}
