//! The console with a big fleet: server-side render time of the device list with 10,000
//! devices in the database, and how long a queued job takes to reach a waiting agent.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use steward_server::secrets::PasswordHashing;

use super::stats::{ms, percentile};

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Devices in the database.
    #[arg(long, default_value_t = 10_000)]
    devices: u32,
    /// Page renders to time.
    #[arg(long, default_value_t = 50)]
    renders: u32,
    /// Jobs to send to a waiting agent.
    #[arg(long, default_value_t = 20)]
    jobs: u32,
}

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    let dir = super::ingest::tempfile_dir()?;
    let store = steward_store::Store::connect(&steward_store::sqlite_url(&dir)).await?;
    let config = steward_server::ServerConfig {
        password_hashing: PasswordHashing::TestOnlyCheap,
        ..Default::default()
    };
    let state = steward_server::state(store.clone(), config)?;
    let now = state.now();
    // Fill the fleet straight through the store (enrollment is not what is measured here).
    let token = steward_server::admin::create_enroll_token(
        &store,
        args.devices,
        now.plus_millis(3_600_000),
        now,
    )
    .await?;
    let token_hash = steward_server::secrets::token_hash(&token);
    for i in 0..args.devices {
        let id = steward_server::secrets::new_id();
        let new = steward_store::NewDevice {
            id: id.clone(),
            name: format!("ws-{i:05}"),
            credential_hash: steward_server::secrets::token_hash(&format!("{id}.x")),
            checkin_interval_secs: 60,
        };
        store
            .enroll_device(&token_hash, &new, now)
            .await?
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
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
    let (user, password) = super::bench_admin(&store).await?;
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

    // API changes made with a session carry its CSRF token, found in any page's forms.
    let page = http
        .get(format!("{url}/devices"))
        .header("cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF token in the device list")?
        .to_string();

    println!("console bench: {} devices (SQLite)", args.devices);
    for (label, path) in [
        ("device list, first page", "/devices"),
        (
            "device list, sorted by last seen",
            "/devices?sort=last_seen&desc=true",
        ),
        ("device list, name search", "/devices?name=ws-09"),
        ("device list, page 100", "/devices?page=100"),
        ("dashboard", "/"),
    ] {
        let mut times = Vec::new();
        for _ in 0..args.renders {
            let t = Instant::now();
            let resp = http
                .get(format!("{url}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "{path}: {}", resp.status());
            let _ = resp.bytes().await?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "  {label:<34} p50 {}  p99 {}",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 99.0))
        );
    }

    // Job delivery: an agent waits in its long-poll; a job is queued through the API.
    let enroll_token =
        steward_server::admin::create_enroll_token(&store, 1, now.plus_millis(600_000), now)
            .await?;
    let enrolled: serde_json::Value = http
        .post(format!("{url}/agent/v1/enroll"))
        .json(&serde_json::json!({"token": enroll_token, "hostname": "job-target"}))
        .send()
        .await?
        .json()
        .await?;
    let device = enrolled["device_id"]
        .as_str()
        .context("device id")?
        .to_string();
    let credential = enrolled["credential"]
        .as_str()
        .context("credential")?
        .to_string();
    let mut delivery = Vec::new();
    for _ in 0..args.jobs {
        let poll = http
            .get(format!("{url}/agent/v1/jobs/next?wait=30"))
            .bearer_auth(&credential)
            .send();
        let queue = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let t = Instant::now();
            let resp = http
                .post(format!("{url}/api/v1/devices/{device}/jobs"))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .json(&serde_json::json!({"kind": "collect_inventory"}))
                .send()
                .await;
            (t, resp)
        };
        let (got, (t, queued)) = tokio::join!(poll, queue);
        let elapsed = t.elapsed();
        anyhow::ensure!(queued?.status().as_u16() == 201, "job not queued");
        anyhow::ensure!(got?.status().as_u16() == 200, "job not delivered");
        delivery.push(elapsed);
    }
    delivery.sort();
    println!(
        "  job to a waiting agent             p50 {}  max {}",
        ms(percentile(&delivery, 50.0)),
        ms(percentile(&delivery, 100.0))
    );
    server.abort();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
