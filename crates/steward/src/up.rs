//! `steward up`: everything on this machine — the server on an embedded SQLite database,
//! the console, and an agent for this machine that enrolls itself over real HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use steward_server::{SystemClock, clock::Clock};
use tokio::sync::watch;

use crate::cli::ServerArgs;
use crate::config;

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    crate::logging::init("info,sqlx=warn");
    let cfg = config::resolve_server(&args)?;
    let identity = crate::tls::identity(&cfg)?;
    let tls = crate::tls::server_config(identity.as_ref())?;
    let (listener, state) = crate::server::start(&cfg, identity.as_ref()).await?;
    let addr = listener.local_addr()?;
    let console = crate::tls::base_url(connectable(addr), identity.as_ref());
    let created_admin = crate::server::print_first_admin(&state).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let server_stop = wait_for(stop_rx.clone());
    let server = tokio::spawn(crate::server::serve(
        listener,
        state.clone(),
        tls,
        server_stop,
    ));

    let agent_dir = cfg.data_dir.join("agent");
    crate::private::dir(&agent_dir)?;
    if steward_agent::state::AgentState::load(&agent_dir).is_err() {
        // The local agent pins the certificate this process serves: no first-use trust needed.
        let pin = identity.as_ref().map(|i| i.fingerprint);
        enroll_local_agent(&state, &agent_dir, &console, pin).await?;
    }
    let mut agent_config =
        crate::agent::with_device_jobs(steward_agent::runner::AgentConfig::new(agent_dir.clone()));
    if !args.no_detection {
        crate::agent::with_detection(&mut agent_config, &agent_dir)?;
    }
    // Posture in a worker process, as `steward agent run` does: what an evaluation reads is
    // not kept in this long-lived process.
    if let Some(posture) = agent_config.posture.as_mut() {
        posture.worker = Some(crate::agent::posture_worker()?);
    }
    let agent = tokio::spawn(steward_agent::runner::run(
        agent_config,
        steward_agent::collect::platform_collector(),
        wait_for(stop_rx),
    ));

    println!("Steward is running.");
    println!("  Console:  {console}");
    if let Some(identity) = &identity {
        println!(
            "  TLS:      {} ({}); agents pin it: STEWARD_ENROLL_TOKEN=T steward agent enroll --server https://… --pin {}",
            identity.fingerprint,
            identity.cert_path.display(),
            identity.fingerprint
        );
    }
    if created_admin {
        println!("  Sign in as admin with the password above.");
    } else {
        println!(
            "  Sign in with your existing account (forgot it? `steward admin user reset-password admin --data-dir {}`).",
            cfg.data_dir.display()
        );
    }
    println!("  Data:     {}", cfg.data_dir.display());
    println!(
        "  Enroll other machines: steward admin enroll-token create --data-dir {}",
        cfg.data_dir.display()
    );
    println!("  Stop with Ctrl-C.");

    crate::shutdown::signal().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), agent).await;
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(join.into()),
        Err(_) => Ok(()),
    }
}

/// An address a local client can connect to: a wildcard bind is reached over loopback.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Enrolls this machine's agent with the server this process just started. A transient
/// failure — the database busy because an admin command writes to it at the same moment —
/// is retried (with a fresh one-use token each time, in case a lost answer spent the last)
/// rather than ending `steward up`.
async fn enroll_local_agent(
    state: &steward_server::AppState,
    agent_dir: &std::path::Path,
    console: &str,
    pin: Option<steward_core::CertFingerprint>,
) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 6;
    let mut wait = std::time::Duration::from_millis(500);
    for attempt in 1..=ATTEMPTS {
        let now = SystemClock.now();
        let token = steward_server::admin::create_enroll_token(
            &state.store,
            1,
            now.plus_millis(10 * 60 * 1000),
            now,
        )
        .await;
        let result = match token {
            Ok(token) => steward_agent::runner::enroll(agent_dir, console, &token, pin)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %format!("{e:#}"), attempt, "enrolling this machine's agent failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                return Err(e.context("enrolling this machine's agent with the local server"));
            }
        }
    }
    Ok(())
}
