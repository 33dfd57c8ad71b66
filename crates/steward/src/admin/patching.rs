//! `steward admin updates …`, through the patching service the API and the console use, so
//! the rules, refusals and audit entries are the same.

use anyhow::{Context, bail};
use steward_core::Escaped;
use steward_core::patching::{OthersRule, PatchPolicy, RebootRule, SecurityRule};
use steward_proto::patching::{Approval, InstallNow, PatchPolicyInput};
use steward_server::AppState;
use steward_server::patching::service;
use steward_server::service::Caller;

use super::monitoring::table::Table;
use super::posture::stored_target;
use crate::cli::{PatchPolicyCommand, UpdatesCommand};

pub async fn run(state: &AppState, caller: &Caller, command: UpdatesCommand) -> anyhow::Result<()> {
    match command {
        UpdatesCommand::List { json } => {
            let overview = service::overview(state, caller).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&overview)?);
                return Ok(());
            }
            eprintln!(
                "{} device(s) missing security updates; oldest pending {}; {} need a reboot.",
                overview.devices_missing_security,
                overview
                    .oldest_security_days
                    .map_or_else(|| "none".to_owned(), |d| format!("{d} days")),
                overview.reboot_required
            );
            let mut table = Table::new(&[
                "DEVICE", "PENDING", "SECURITY", "OLDEST", "REBOOT", "SCRIPTS",
            ]);
            for d in &overview.devices {
                table.row(vec![
                    d.device_name.clone(),
                    d.pending.to_string(),
                    d.security.to_string(),
                    d.oldest_security_days
                        .map_or_else(|| "-".into(), |x| format!("{x}d")),
                    if d.reboot_required { "yes" } else { "" }.into(),
                    if d.scripts_allowed { "allowed" } else { "off" }.into(),
                ]);
            }
            print!("{}", table.render());
        }
        UpdatesCommand::Show { device, json } => {
            let found = steward_server::devices::find_by_name_or_id(state, caller, &device).await?;
            let rows = service::device_pending(state, caller, &found.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            let mut table = Table::new(&[
                "PACKAGE",
                "INSTALLED",
                "CANDIDATE",
                "SECURITY",
                "DAYS",
                "POLICY",
            ]);
            for r in &rows {
                table.row(vec![
                    r.package.clone(),
                    r.installed.clone(),
                    r.candidate.clone(),
                    if r.security { "yes" } else { "" }.into(),
                    r.pending_days.to_string(),
                    r.plan.clone(),
                ]);
            }
            print!("{}", table.render());
        }
        UpdatesCommand::Install {
            on,
            packages,
            security_only,
        } => {
            let req = InstallNow {
                target: stored_target(state, caller, &on).await?,
                packages,
                security_only,
            };
            let batch = service::install_now(state, caller, &req).await?;
            println!("{}", batch.id);
            super::scripts::describe(&batch);
        }
        UpdatesCommand::Approve { package, version } => {
            service::approve(state, caller, &Approval { package, version }).await?;
            eprintln!("Approved.");
        }
        UpdatesCommand::Unapprove { package, version } => {
            service::revoke_approval(state, caller, &Approval { package, version }).await?;
            eprintln!("Approval withdrawn.");
        }
        UpdatesCommand::Policy(cmd) => policy(state, caller, cmd).await?,
    }
    Ok(())
}

async fn policy(
    state: &AppState,
    caller: &Caller,
    command: PatchPolicyCommand,
) -> anyhow::Result<()> {
    match command {
        PatchPolicyCommand::List { json } => {
            let policies = service::policies(state, caller).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&policies)?);
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "ON", "WINDOW", "DOES"]);
            for p in &policies {
                table.row(vec![
                    p.name.clone(),
                    p.target.clone(),
                    p.window.clone().unwrap_or_else(|| "any time".into()),
                    p.policy.describe(),
                ]);
            }
            print!("{}", table.render());
        }
        PatchPolicyCommand::Add {
            name,
            on,
            window,
            security,
            others,
            reboot,
            holds,
        } => {
            let security = match security.as_str() {
                "auto" => SecurityRule::Auto,
                "approve" => SecurityRule::Approve,
                other => bail!("--security: auto or approve, not {other:?}"),
            };
            let others = match others.as_str() {
                "approve" => OthersRule::Approve,
                "never" => OthersRule::Never,
                other => match other.strip_prefix("defer:") {
                    Some(days) => OthersRule::Auto {
                        defer_days: days
                            .parse()
                            .with_context(|| format!("--others {other}: defer:DAYS"))?,
                    },
                    None => bail!("--others: defer:DAYS, approve or never, not {other:?}"),
                },
            };
            let reboot = match reboot.as_str() {
                "never" => RebootRule::Never,
                "in_window" => RebootRule::InWindow,
                "ask" => RebootRule::Ask,
                other => bail!("--reboot: never, in_window or ask, not {other:?}"),
            };
            let input = PatchPolicyInput {
                name,
                target: stored_target(state, caller, &on).await?,
                policy: PatchPolicy {
                    security,
                    others,
                    holds,
                    reboot,
                },
                window,
                enabled: true,
            };
            let created = service::create_policy(state, caller, &input).await?;
            println!("{}", created.id);
            eprintln!("Added patch policy {}.", Escaped(&created.name));
        }
        PatchPolicyCommand::Delete { policy } => {
            service::delete_policy(state, caller, &policy).await?;
            eprintln!("Deleted patch policy {}.", Escaped(&policy));
        }
    }
    Ok(())
}
