//! Metrics history end to end: samples posted over the agent protocol as time passes (a
//! manual clock), rolled up by the server's own roll-up code, read back through the API at
//! each resolution and drawn on the device page; and a real agent's disk and network series.

use std::time::Duration;

use serde_json::Value;
use steward_core::{DiskIo, FilesystemUsage, Metrics, NetThroughput};
use steward_proto::agent::{Report, ReportBatch};
use steward_server::history::rollups::roll_up_due;
use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};

use crate::support::{PASSWORD, browser, get};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The CPU share the device reports at `at`: the hour of the day, so each hour's samples
/// are the same and each day's hourly averages run 0–23.
fn cpu_at(at: i64) -> f32 {
    (at.rem_euclid(DAY) / HOUR) as f32
}

fn metrics_at(at: i64) -> Metrics {
    Metrics {
        cpu_percent: cpu_at(at),
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 4 << 30,
        load_1m: 0.5,
        filesystems: vec![FilesystemUsage {
            mount_point: "/".into(),
            total_bytes: 100,
            used_bytes: 40,
        }],
        disks: vec![DiskIo {
            device: "sda".into(),
            read_bytes_per_sec: 2048,
            write_bytes_per_sec: 0,
        }],
        networks: vec![NetThroughput {
            interface: "eth0".into(),
            rx_bytes_per_sec: 1000,
            tx_bytes_per_sec: 10,
        }],
        ..Default::default()
    }
}

struct Device<'a> {
    server: &'a TestServer,
    credential: String,
    seq: u64,
}

impl Device<'_> {
    /// Checks in with a sample taken at the server's current time.
    async fn check_in(&mut self) {
        self.seq += 1;
        let now = self.server.now();
        let batch = ReportBatch {
            reports: vec![Report {
                observations: None,
                posture: None,
                updates: None,
                seq: self.seq,
                collected_at: now,
                metrics: Some(metrics_at(now.0)),
                inventory: None,
                summarised: 0,
                detections: Vec::new(),
                stopping: false,
            }],
            capabilities: None,
        };
        let resp = self
            .server
            .http
            .post(format!("{}/agent/v1/reports", self.server.url))
            .bearer_auth(&self.credential)
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
    }
}

async fn series(server: &TestServer, token: &str, id: &str, query: &str) -> (u16, Value) {
    server
        .api_get(token, &format!("/api/v1/devices/{id}/series?{query}"))
        .await
}

fn points(v: &Value) -> Vec<(i64, f64, f64)> {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["at"].as_i64().unwrap(),
                p["avg"].as_f64().unwrap(),
                p["max"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn series_are_read_back_at_each_resolution() {
    let server = TestServer::sqlite_manual_clock().await;
    let clock = server.clock();
    // Start on an hour boundary, so every bucket below is whole.
    let start = server.now().0;
    clock.advance(Duration::from_millis(
        (HOUR - start.rem_euclid(HOUR)) as u64,
    ));
    let (id, credential) = server.enroll_raw("history-1").await;
    let mut device = Device {
        server: &server,
        credential,
        seq: 0,
    };
    // Forty days of a check-in every 20 minutes, rolled up at the end of each day (as the
    // server's task would, more often); then an hour of check-ins every minute.
    let begin = server.now().0;
    for _day in 0..40 {
        for _ in 0..72 {
            device.check_in().await;
            clock.advance(Duration::from_secs(20 * 60));
        }
        roll_up_due(&server.state).await.unwrap();
    }
    for _ in 0..60 {
        device.check_in().await;
        clock.advance(Duration::from_secs(60));
    }
    roll_up_due(&server.state).await.unwrap();
    let now = server.now().0;
    let token = server.api_token().await;

    let (status, available) = server
        .api_get(&token, &format!("/api/v1/devices/{id}/series/available"))
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = available
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for expected in [
        "cpu",
        "memory",
        "load",
        "fs:/",
        "disk_read:sda",
        "disk_write:sda",
        "net_rx:eth0",
        "net_tx:eth0",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(!names.contains(&"swap"), "no swap reported");

    // The last hour: every sample.
    let (status, hour) = series(
        &server,
        &token,
        &id,
        &format!("metric=cpu&from={}", now - HOUR),
    )
    .await;
    assert_eq!(status, 200, "{hour}");
    assert_eq!(hour["resolution"], "raw");
    assert_eq!(hour["unit"], "percent");
    let hour_points = points(&hour);
    assert_eq!(hour_points.len(), 60);
    assert!(
        hour_points
            .iter()
            .all(|(at, avg, max)| { *avg == f64::from(cpu_at(*at)) && avg == max })
    );

    // What a check reads: the samples of a window, as they were taken.
    let cpu = steward_core::history::SeriesName::parse("cpu").unwrap();
    let recent = steward_server::history::recent_values(
        &server.store,
        &id,
        &cpu,
        steward_core::Timestamp(now - 10 * MINUTE),
        server.now(),
    )
    .await
    .unwrap();
    assert_eq!(recent.len(), 10);
    assert!(recent.iter().all(|(at, v)| *v == f64::from(cpu_at(at.0))));
    assert!(recent.windows(2).all(|w| w[0].0 < w[1].0));

    // The last day (the default range): still every sample, 72 + 60 of them.
    let (_, day) = series(&server, &token, &id, "metric=memory").await;
    assert_eq!(day["resolution"], "raw");
    assert_eq!(day["to"].as_i64(), Some(now));
    assert!(points(&day).iter().all(|(_, avg, _)| *avg == 25.0));

    // Six days: 5-minute roll-ups, one bucket per check-in (20 minutes apart, then the
    // last hour's five a bucket), each the value of its hour. The last minutes, not rolled
    // up yet, are rolled up for the answer.
    let (_, days) = series(
        &server,
        &token,
        &id,
        &format!("metric=cpu&from={}", now - 6 * DAY),
    )
    .await;
    assert_eq!(days["resolution"], "five_minutes", "{days}");
    let days_points = points(&days);
    assert_eq!(days_points.len(), 6 * 72 - 3 + 12);
    assert!(
        days_points
            .iter()
            .all(|(at, avg, _)| *avg == f64::from(cpu_at(*at)))
    );
    assert_eq!(days_points.last().unwrap().0, now - 5 * MINUTE);

    // Thirty days: hourly roll-ups merged two hours a point to stay within 500 points.
    let (_, month) = series(
        &server,
        &token,
        &id,
        &format!("metric=cpu&from={}", now - 30 * DAY),
    )
    .await;
    assert_eq!(month["resolution"], "hourly");
    assert_eq!(month["step_ms"].as_i64(), Some(2 * HOUR));
    let month_points = points(&month);
    assert!(
        month_points.len() <= 500 && month_points.len() >= 355,
        "{}",
        month_points.len()
    );
    // A two-hour bucket starting at hour h averages h and h + 1, and peaks at h + 1.
    let (at, avg, max) = month_points[100];
    let h = f64::from(cpu_at(at));
    assert_eq!((avg, max), (h + 0.5, h + 1.0), "at {at}");

    // A year: hourly, over the forty days there are.
    let (_, year) = series(
        &server,
        &token,
        &id,
        &format!("metric=net_rx:eth0&from={}", now - 365 * DAY),
    )
    .await;
    assert_eq!(year["resolution"], "hourly");
    assert_eq!(year["unit"], "bytes_per_second");
    let year_points = points(&year);
    assert!(year_points.len() <= 500);
    assert!(year_points.first().unwrap().0 <= begin + DAY);
    assert!(
        year_points
            .iter()
            .all(|(_, avg, max)| *avg == 1000.0 && *max == 1000.0)
    );

    // Bad requests name what is wrong.
    for (query, field) in [
        ("", "metric: required"),
        ("metric=temperature", "metric: unknown series"),
        ("metric=fs:", "metric: series"),
        (
            &format!("metric=cpu&from={now}&to={}", now - 1),
            "from: must be before to",
        ),
        (
            &format!("metric=cpu&from={}&to={now}", now - 500 * DAY),
            "from: a range is at most",
        ),
        ("metric=cpu&from=yesterday", "from"),
    ] {
        let (status, body) = series(&server, &token, &id, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{query}: {message}");
    }
    let (status, _) = series(&server, &token, "no-such-device", "metric=cpu").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_device_page_draws_charts_and_a_scoped_user_sees_none_of_others() {
    let server = TestServer::sqlite_manual_clock().await;
    let (id, credential) = server.enroll_raw("charted").await;
    let (quiet, _) = server.enroll_raw("quiet").await;
    let mut device = Device {
        server: &server,
        credential,
        seq: 0,
    };
    for _ in 0..30 {
        device.check_in().await;
        server.clock().advance(Duration::from_secs(60));
    }
    server
        .create_user("ann", steward_core::Role::Admin, PASSWORD)
        .await;
    let cookie = server.sign_in("ann", PASSWORD).await;
    let http = browser();
    let (status, page) = get(&http, &server, &cookie, &format!("/devices/{id}")).await;
    assert_eq!(status, 200);
    for chart in [
        "chart-cpu",
        "chart-memory",
        "chart-load",
        "chart-filesystems",
        "chart-disks",
        "chart-network",
    ] {
        assert!(page.contains(&format!("id=\"{chart}\"")), "{chart}");
    }
    assert!(page.contains("<svg class=\"chart-svg\""));
    assert!(page.contains("<polyline points=\""));
    // Hover values with units, and the axis labelled in the unit.
    assert!(page.contains(" UTC · CPU "), "hover titles");
    assert!(page.contains("KiB/s"));
    assert!(page.contains(">100 %</text>"));
    // The range tabs keep the page and name the range.
    assert!(page.contains(&format!("href=\"/devices/{id}?mr=7d#metrics\"")));
    let (_, year) = get(&http, &server, &cookie, &format!("/devices/{id}?mr=1y")).await;
    assert!(year.contains("aria-current=\"true\">1 y</a>"));
    assert!(year.contains("<polyline"));
    // A device with no samples yet says so.
    let (_, empty) = get(&http, &server, &cookie, &format!("/devices/{quiet}")).await;
    assert!(empty.contains("No data for this range yet"));
    assert!(!empty.contains("<svg class=\"chart-svg\""));

    // A user limited to a group the device is not in gets neither its page nor its series.
    let group = steward_server::secrets::new_id();
    server
        .store
        .create_group(&group, "Elsewhere", server.now())
        .await
        .unwrap();
    let (status, body) = server
        .api_post(
            &server.api_token().await,
            "/api/v1/users",
            serde_json::json!({"username": "tech", "role": "technician", "groups": [group]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let one_time = body["password"].as_str().unwrap().to_string();
    let tech = server.sign_in_first_time("tech", &one_time, PASSWORD).await;
    let (status, _) = get(&http, &server, &tech, &format!("/devices/{id}")).await;
    assert_eq!(status, 404);
    let resp = http
        .get(format!(
            "{}/api/v1/devices/{id}/series?metric=cpu",
            server.url
        ))
        .header("cookie", &tech)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn a_real_agent_reports_disk_and_network_series() {
    let server = TestServer::sqlite().await;
    let token = server.enroll_token(1).await;
    let collector = ScriptedCollector::new(sample_inventory("agent-history", 5));
    let mut agent = TestAgent::enroll(&server.url, &token, collector)
        .await
        .unwrap();
    agent.start(Duration::from_millis(200));
    let api = server.api_token().await;
    let id = agent.device_id.clone();
    let found = eventually(
        Duration::from_secs(20),
        "disk and network series",
        || async {
            let (_, body) = series(&server, &api, &id, "metric=disk_read:sda").await;
            let (_, net) = series(&server, &api, &id, "metric=net_tx:eth0").await;
            (!points(&body).is_empty() && !points(&net).is_empty()).then_some((body, net))
        },
    )
    .await;
    agent.stop().await;
    assert_eq!(points(&found.0)[0].1, 4096.0);
    assert_eq!(points(&found.1)[0].1, 256.0);
}
