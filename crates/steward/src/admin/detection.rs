//! `steward admin detections|detection-policy|drill …`, through the detection service the
//! API and the console use, so the rules, refusals and audit entries are the same. Every
//! text an agent reported is escaped before it reaches the terminal.

use std::time::Duration;

use anyhow::bail;
use steward_core::Escaped;
use steward_core::detection::DetectionPolicy;
use steward_core::detection::record::Decision;
use steward_proto::detection::{DetectionPolicyIo, DrillOut, DrillRequest};
use steward_server::AppState;
use steward_server::detection::service;
use steward_server::service::Caller;

use super::monitoring::table::Table;
use super::posture::stored_target;
use crate::cli::{DetectionPolicyCommand, DetectionsCommand, DrillCommand};

/// How long `--wait` waits for a drill: the job's own deadline.
const DRILL_WAIT: Duration = Duration::from_secs(3600);

pub async fn detections(
    state: &AppState,
    caller: &Caller,
    command: DetectionsCommand,
) -> anyhow::Result<()> {
    match command {
        DetectionsCommand::List {
            device,
            status,
            json,
        } => {
            let list = service::list(state, caller, device.as_deref(), status.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let mut table = Table::new(&["ID", "DEVICE", "STATUS", "WHAT", "SUMMARY"]);
            for d in &list {
                table.row(vec![
                    d.id.clone(),
                    d.device_name.clone(),
                    d.status.describe().into(),
                    d.title.clone(),
                    d.summary.clone(),
                ]);
            }
            print!("{}", table.render());
        }
        DetectionsCommand::Show { id, json } => {
            let d = service::get(state, caller, &id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(());
            }
            let s = &d.summary;
            println!(
                "{} on {}: {}",
                s.title,
                Escaped(&s.device_name),
                s.status.describe()
            );
            println!("{}", Escaped(&s.summary));
            for (role, p) in d
                .process
                .iter()
                .map(|p| ("process", p))
                .chain(d.ancestors.iter().map(|p| ("parent", p)))
            {
                println!(
                    "{role} {} {} user {} sha256 {} : {}",
                    p.pid,
                    Escaped(&p.exe),
                    Escaped(&p.user),
                    if p.exe_sha256.is_empty() {
                        "unknown"
                    } else {
                        &p.exe_sha256
                    },
                    Escaped(&p.cmdline)
                );
            }
            for sig in &d.signals {
                println!(
                    "signal {} = {} {}",
                    Escaped(&sig.name),
                    sig.value,
                    Escaped(&sig.detail)
                );
            }
            let mut files = Table::new(&["OP", "PATH", "TO", "DAMAGED"]);
            for f in &d.files {
                files.row(vec![
                    <&'static str>::from(f.op).into(),
                    f.path.clone(),
                    f.to.clone().unwrap_or_default(),
                    if f.damaged { "yes" } else { "" }.into(),
                ]);
            }
            print!("{}", files.render());
            for r in &d.responses {
                println!(
                    "response {} {}: {}",
                    r.action.as_str(),
                    if r.ok { "done" } else { "failed" },
                    Escaped(&r.message)
                );
            }
        }
        DetectionsCommand::Decide { id, decision } => {
            let Some(decision) = Decision::parse(&decision) else {
                bail!(
                    "{decision:?}: decide confirm, release, false_alarm, isolate or lift_isolation"
                );
            };
            let out = service::decide(state, caller, &id, decision).await?;
            match out.job_id {
                Some(job) => eprintln!(
                    "The detection is {}; job {job} asks the agent to act.",
                    out.status.describe()
                ),
                None => eprintln!("The detection is {}.", out.status.describe()),
            }
        }
    }
    Ok(())
}

pub async fn policy(
    state: &AppState,
    caller: &Caller,
    command: DetectionPolicyCommand,
) -> anyhow::Result<()> {
    match command {
        DetectionPolicyCommand::Set {
            target,
            folders,
            no_canaries,
            auto_stop,
            auto_isolate,
        } => {
            let target = stored_target(state, caller, &target).await?;
            let set = service::set_policy(
                state,
                caller,
                DetectionPolicyIo {
                    target,
                    policy: DetectionPolicy {
                        folders,
                        canaries: !no_canaries,
                        auto_stop,
                        auto_isolate,
                    },
                },
            )
            .await?;
            eprintln!(
                "Policy of {}: {}; {}.",
                Escaped(&set.target),
                Escaped(&set.policy.folders.join(", ")),
                set.responses
            );
        }
        DetectionPolicyCommand::List { json } => {
            let policies = service::policies(state, caller).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&policies)?);
                return Ok(());
            }
            let mut table = Table::new(&["ON", "FOLDERS", "CANARIES", "RESPONSES"]);
            for p in &policies {
                table.row(vec![
                    p.target.clone(),
                    p.policy.folders.join(" "),
                    if p.policy.canaries { "on" } else { "off" }.into(),
                    p.responses.clone(),
                ]);
            }
            print!("{}", table.render());
        }
        DetectionPolicyCommand::Delete { target } => {
            let target = stored_target(state, caller, &target).await?;
            service::delete_policy(state, caller, &target).await?;
            eprintln!("Deleted the policy of {}.", Escaped(&target));
        }
    }
    Ok(())
}

pub async fn drill(state: &AppState, caller: &Caller, command: DrillCommand) -> anyhow::Result<()> {
    let DrillCommand::Ransomware {
        device,
        files,
        wait,
    } = command;
    let queued = service::queue_drill(state, caller, &device, DrillRequest { files }).await?;
    println!("{}", queued.job_id);
    if !wait {
        eprintln!(
            "Queued on {}; `steward admin drill ransomware … --wait` waits for the result.",
            Escaped(&queued.device_name)
        );
        return Ok(());
    }
    let started = std::time::Instant::now();
    loop {
        let now = service::drill(state, caller, &queued.job_id).await?;
        if now.finished_at.is_some() {
            describe(&now);
            if now.passed == Some(true) {
                return Ok(());
            }
            bail!("the drill did not pass");
        }
        if started.elapsed() > DRILL_WAIT {
            bail!("no result within an hour; is the device's agent running?");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn describe(d: &DrillOut) {
    eprintln!(
        "{}: {} of {} files lost; detected {}.",
        if d.passed == Some(true) {
            "Passed"
        } else {
            "Failed"
        },
        d.files_lost.unwrap_or(0),
        d.files_total.unwrap_or(0),
        d.time_to_detect_ms
            .map_or_else(|| "never".to_owned(), |ms| format!("after {ms} ms"))
    );
    for (channel, delivered) in &d.channels {
        eprintln!(
            "  {}: {}",
            Escaped(channel),
            if *delivered {
                "delivered"
            } else {
                "not delivered"
            }
        );
    }
    for f in &d.failures {
        eprintln!("  {}", Escaped(f));
    }
}
