//! Several servers and SIGKILL, with real `steward server` processes, real HTTP targets and a
//! real webhook receiver on loopback (docs/ARCHITECTURE.md, "Several servers"):
//! - two servers on one PostgreSQL database run each check once per interval (not once per
//!   server) and send each alert once; when one is killed, the other takes over what it held
//!   once its lease lapses, and still alerts once;
//! - an alert decided before a SIGKILL — its delivery failed once, then was cut off mid-send —
//!   arrives once after the restart, never twice, and the outbox shows it delivered.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Steward;
use serde_json::Value;
use steward_testkit::TestDb;
use steward_testkit::peers::{
    Hits, counting_target, free_address, http_target, next_within, silent_receiver_at,
    webhook_receiver, webhook_receiver_at,
};
use tokio::sync::mpsc::UnboundedReceiver;

/// Every check's interval.
const INTERVAL: Duration = Duration::from_secs(2);
/// How long a slow target takes to answer: its probe stays in flight that long.
const SLOW_ANSWER: Duration = Duration::from_millis(1_500);
/// How long a dead server's claims hold (the servers' own figure).
const LEASE: Duration = Duration::from_millis(steward_server::monitoring::leases::LEASE_MS as u64);
/// The bound from a target going down to its alert: interval × (retries + 1) + 5 s,
/// with `retries = 1`.
const ALERT_BOUND: Duration = Duration::from_secs(2 * 2 + 5);

fn unix_ms(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn at_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap())
}

/// An HTTP target a check probes, which the test stops and starts again.
struct Target {
    name: String,
    addr: SocketAddr,
    answer_after: Duration,
    hits: Hits,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl Target {
    async fn start(name: &str, answer_after: Duration) -> Target {
        let mut target = Target {
            name: name.to_string(),
            addr: free_address().await,
            answer_after,
            hits: Hits::default(),
            serving: None,
        };
        target.up().await;
        target
    }

    async fn up(&mut self) {
        self.serving = Some(counting_target(self.addr, self.answer_after, self.hits.clone()).await);
    }

    async fn down(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.abort();
            let _ = serving.await;
        }
    }

    fn check(&self, interval: &str) -> String {
        format!(
            "[[checks]]\nname = \"{}\"\nkind = \"http\"\nurl = \"http://{}/\"\n\
             interval = \"{interval}\"\nretries = 1\ntimeout = \"5s\"\n\n",
            self.name, self.addr
        )
    }
}

/// The alert in a webhook's body (the first, when the body carries a list of them).
fn alert(body: &Value) -> &Value {
    body.get("alerts")
        .and_then(|alerts| alerts.get(0))
        .unwrap_or(body)
}

async fn expect_alert(
    received: &mut UnboundedReceiver<Value>,
    check: &str,
    event: &str,
    within: Duration,
) {
    let body = next_within(received, within)
        .await
        .unwrap_or_else(|| panic!("no {event} for {check} within {within:?}"));
    let a = alert(&body);
    assert_eq!(
        (a["check"].as_str(), a["event"].as_str()),
        (Some(check), Some(event)),
        "{body}"
    );
}

async fn expect_nothing_more(received: &mut UnboundedReceiver<Value>, quiet: Duration) {
    if let Some(body) = next_within(received, quiet).await {
        panic!("one message per transition, but then also: {body}");
    }
}

/// `steward server` with `config` on the database at `url`, its data in `data`.
fn server(config: &Path, data: &Path, url: &str) -> Steward {
    Steward::start(
        &[
            "server",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--database",
            url,
        ],
        "listening on",
    )
}

async fn poll<T, F, Fut>(what: &str, limit: Duration, mut look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(found) = look().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn database(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_run_each_check_once_and_alert_once_even_when_one_is_killed() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("STEWARD_TEST_PG_URL unset: the two-server test needs PostgreSQL, skipped");
        return;
    };
    two_servers(&db.url).await;
    db.cleanup().await;
}

async fn two_servers(url: &str) {
    let mut fast = Vec::new();
    for i in 0..4 {
        fast.push(Target::start(&format!("fast-{i}"), Duration::ZERO).await);
    }
    let mut slow = Vec::new();
    for i in 0..2 {
        slow.push(Target::start(&format!("slow-{i}"), SLOW_ANSWER).await);
    }
    let (hook, mut received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    // Replicas share one configuration and one sealing key (the channel's settings are
    // sealed with it).
    let mut text = format!(
        "sealing_key_file = \"{}\"\n\n",
        dir.path().join("secret.key").display()
    );
    for t in fast.iter().chain(&slow) {
        text.push_str(&t.check("2s"));
    }
    text.push_str(&format!(
        "[[notifications]]\nname = \"ops-webhook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n"
    ));
    std::fs::write(&config, text).unwrap();
    let a = server(&config, &dir.path().join("a"), url);
    let b = server(&config, &dir.path().join("b"), url);
    let pool = database(url).await;
    for t in fast.iter().chain(&slow) {
        poll(
            &format!("a first probe of {}", t.name),
            Duration::from_secs(30),
            || async move { (!t.hits.times().is_empty()).then_some(()) },
        )
        .await;
    }

    // 1. Both up: over five intervals each check runs once an interval. A run is due one
    // interval after the previous one was due, whatever the probe took (the schedule keeps
    // its place), and starts at its due time: 10 s hold 5 runs, one more or less at the
    // edges. Run once per server, it would be about 10.
    let from = SystemTime::now();
    tokio::time::sleep(INTERVAL * 5).await;
    let to = SystemTime::now();
    for t in fast.iter().chain(&slow) {
        let runs = t.hits.between(from, to);
        assert!((4..=6).contains(&runs), "{}: {runs} runs in 10 s", t.name);
    }

    // 2. A target goes down and comes back: one problem, one recovery, from either server.
    fast[0].down().await;
    expect_alert(&mut received, "fast-0", "problem", ALERT_BOUND).await;
    fast[0].up().await;
    expect_alert(&mut received, "fast-0", "recovery", ALERT_BOUND).await;
    expect_nothing_more(&mut received, Duration::from_secs(3)).await;

    // 3. SIGKILL the server probing a slow target (claimed under a second ago, so the probe
    // has at least half a second to go). Which server claims a check is a race: whichever
    // holds one is killed, and the other must take over.
    let holders = (format!("{}.%", a.pid()), format!("{}.%", b.pid()));
    let (held, holder): (String, String) = poll(
        "a server probing a slow target",
        Duration::from_secs(30),
        || {
            let (pool, holders) = (&pool, &holders);
            async move {
                sqlx::query_as(
                    "SELECT check_id, lease_holder FROM check_state \
                     WHERE (lease_holder LIKE $1 OR lease_holder LIKE $2) \
                     AND check_id LIKE 'config:slow-%' AND claimed_at > $3",
                )
                .bind(&holders.0)
                .bind(&holders.1)
                .bind(unix_ms(SystemTime::now()) - 800)
                .fetch_optional(pool)
                .await
                .unwrap()
            }
        },
    )
    .await;
    let (victim, b) = if holder.starts_with(&format!("{}.", a.pid())) {
        (a, b)
    } else {
        (b, a)
    };
    let a_pid = victim.pid();
    victim.kill();
    let killed = SystemTime::now();
    let (holder, lease_until): (String, i64) =
        sqlx::query_as("SELECT lease_holder, lease_until FROM check_state WHERE check_id = $1")
            .bind(&held)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        holder.starts_with(&format!("{a_pid}.")),
        "{held} was not in flight on the killed server when it died"
    );
    let lapses = at_ms(lease_until);
    assert!(
        lapses <= killed + LEASE,
        "a lease outlives its last renewal by {LEASE:?} at most"
    );
    fast[1].down().await;

    // `b` alone notices `fast-1` go down (if `a` held it, after its lease lapsed) and
    // alerts once.
    expect_alert(&mut received, "fast-1", "problem", LEASE + ALERT_BOUND).await;
    // The check `a` was probing runs again on `b` once `a`'s lease lapses, not before (the
    // run was `a`'s) and then at its scheduler's next look (250 ms; 3 s on a loaded machine).
    let target = slow.iter().find(|t| held.ends_with(&t.name)).unwrap();
    let taken_over = poll(
        "b taking over a's probe",
        LEASE + Duration::from_secs(10),
        || async move { target.hits.times().into_iter().find(|t| *t > killed) },
    )
    .await;
    assert!(
        taken_over + Duration::from_millis(50) >= lapses,
        "{held} ran again {:?} before a's lease lapsed",
        lapses.duration_since(taken_over).unwrap_or_default()
    );
    assert!(
        taken_over <= lapses + Duration::from_secs(3),
        "{held} ran again {:?} after a's lease lapsed",
        taken_over.duration_since(lapses).unwrap_or_default()
    );
    fast[1].up().await;
    expect_alert(&mut received, "fast-1", "recovery", ALERT_BOUND).await;
    expect_nothing_more(&mut received, Duration::from_secs(3)).await;
    let end = SystemTime::now();

    // Over the whole run no check ran twice in an interval: runs of one check are an
    // interval apart (less the jitter of noting arrivals in this process, well under half a
    // second), where two servers running it would put runs a scheduler tick apart.
    for t in fast.iter().chain(&slow) {
        let times = t.hits.times();
        for pair in times.windows(2) {
            let gap = pair[1].duration_since(pair[0]).unwrap_or_default();
            assert!(
                gap >= INTERVAL - Duration::from_millis(500),
                "{}: runs {gap:?} apart",
                t.name
            );
        }
        // And every check still runs, on `b`.
        let last = *times.last().unwrap();
        assert!(
            end.duration_since(last).unwrap_or_default() < INTERVAL + SLOW_ANSWER * 2,
            "{}: last ran {:?} ago",
            t.name,
            end.duration_since(last).unwrap_or_default()
        );
    }
    // Each transition is one history line and one outbox row, delivered at the first try.
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM check_history")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(lines, 4);
    let outbox: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT attempts, delivered_at FROM notifications")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(outbox.len(), 4, "{outbox:?}");
    assert!(
        outbox
            .iter()
            .all(|(attempts, delivered)| *attempts == 1 && delivered.is_some()),
        "{outbox:?}"
    );
    assert!(!b.said("cannot store a result"), "{}", b.output());
    drop(b);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_cut_off_by_sigkill_arrives_once_after_restart_sqlite() {
    let db = TestDb::sqlite();
    alert_survives_sigkill(&db.url).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_cut_off_by_sigkill_arrives_once_after_restart_postgres() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped");
        return;
    };
    alert_survives_sigkill(&db.url).await;
    db.cleanup().await;
}

/// The outbox row of the one notification: attempts, delivered time, holder, last error.
type Row = (i64, Option<i64>, String, String);

async fn outbox(pool: &sqlx::AnyPool) -> Vec<Row> {
    sqlx::query_as(
        "SELECT attempts, delivered_at, lease_holder, last_error FROM notifications ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn alert_survives_sigkill(url: &str) {
    // Nothing listens at the target (the check fails from the start) nor, yet, at the hook.
    let target = free_address().await;
    let hook = free_address().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[[checks]]\nname = \"shop\"\nkind = \"http\"\nurl = \"http://{target}/\"\n\
             interval = \"1s\"\nretries = 1\ntimeout = \"2s\"\n\n\
             [[notifications]]\nname = \"ops-webhook\"\nkind = \"webhook\"\n\
             url = \"http://{hook}/hook\"\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let first = server(&config, &data, url);
    let pool = database(url).await;

    // Decided, and the first delivery failed: the notification waits in the outbox.
    let pool = &pool;
    let failed = poll(
        "a failed first delivery",
        Duration::from_secs(30),
        || async move {
            let rows = outbox(pool).await;
            (rows.len() == 1 && rows[0].0 == 1).then(|| rows[0].clone())
        },
    )
    .await;
    assert_eq!(failed.1, None);
    assert!(!failed.3.is_empty(), "the failure is recorded: {failed:?}");

    // The retry (ten seconds later) reaches a receiver that never answers; the server is
    // killed while that send is in flight: decided, not delivered.
    let (mut silent, silent_task) = silent_receiver_at(hook).await;
    let cut_off = next_within(&mut silent, Duration::from_secs(30))
        .await
        .expect("a second attempt");
    assert_eq!(alert(&cut_off)["event"], "problem", "{cut_off}");
    let pid = first.pid();
    first.kill();
    let row = outbox(pool).await[0].clone();
    assert_eq!(
        (row.0, row.1),
        (1, None),
        "the attempt cut off is not recorded: {row:?}"
    );
    assert!(
        row.2.starts_with(&format!("{pid}.")),
        "held by the dead server: {row:?}"
    );
    silent_task.abort();
    let _ = silent_task.await;

    // The receiver works now, and the server comes back: the alert arrives once, when the
    // dead server's lease has lapsed.
    let (mut received, _receiving) = webhook_receiver_at(hook).await;
    let second = server(&config, &data, url);
    let body = next_within(&mut received, LEASE + Duration::from_secs(10))
        .await
        .expect("the alert, after the restart");
    let a = alert(&body);
    assert_eq!(
        (a["check"].as_str(), a["event"].as_str()),
        (Some("shop"), Some("problem")),
        "{body}"
    );
    assert_eq!(a["status"], "critical", "{body}");
    expect_nothing_more(&mut received, Duration::from_secs(4)).await;
    let row = outbox(pool).await[0].clone();
    assert!(row.1.is_some(), "delivered: {row:?}");
    assert_eq!(row.0, 2, "one failed attempt, one delivered: {row:?}");

    // The next transition is a notification of its own: one recovery, within
    // interval × (retries + 1) + 5 s.
    let _up = http_target(target).await;
    expect_alert(&mut received, "shop", "recovery", Duration::from_secs(7)).await;
    expect_nothing_more(&mut received, Duration::from_secs(3)).await;
    let rows = outbox(pool).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.1.is_some()), "{rows:?}");
    drop(second);
    pool.close().await;
}
