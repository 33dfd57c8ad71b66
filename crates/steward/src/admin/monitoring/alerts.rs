//! `steward admin alerts list|ack`. An alert is named `CHECK` (a network monitor) or
//! `CHECK@DEVICE` (a device check on one device), by name or id.

use anyhow::bail;
use steward_core::Escaped;
use steward_proto::monitoring::{AlertInfo, AlertQuery, AlertsView};
use steward_server::monitoring::{alerts, checks};
use steward_server::service::Caller;
use steward_server::{AppState, devices};

use super::table::Table;
use super::{ago, find, print_json};
use crate::cli::AlertsCommand;

pub async fn run(state: &AppState, caller: &Caller, cmd: AlertsCommand) -> anyhow::Result<()> {
    match cmd {
        AlertsCommand::List {
            all,
            resolved,
            hours,
            json,
        } => {
            let query = AlertQuery {
                resolved_hours: Some(hours),
                ..AlertQuery::default()
            };
            let mut view = alerts::view(state, caller, &query).await?;
            if resolved {
                view.open.clear();
            } else if !all {
                view.resolved.clear();
            }
            if json {
                return print_json(&view);
            }
            print(caller, &view, !resolved, all || resolved, hours);
            Ok(())
        }
        AlertsCommand::Ack { alert, comment } => {
            let (check_id, subject, label) = resolve(state, caller, &alert).await?;
            alerts::acknowledge(state, caller, &check_id, &subject, &comment).await?;
            eprintln!(
                "Acknowledged {}: no reminders until it recovers.",
                Escaped(&label)
            );
            Ok(())
        }
    }
}

/// How `alerts list` names an alert, which `alerts ack` takes: `CHECK@DEVICE`, `CHECK` for
/// a network monitor, `CHECK@manual:ITEM` for the organisation's checklist item.
fn handle(check: &str, device: Option<&str>, subject: &str) -> String {
    match device {
        Some(d) => format!("{check}@{d}"),
        None if subject.is_empty() => check.to_string(),
        None => format!("{check}@{subject}"),
    }
}

fn print(caller: &Caller, view: &AlertsView, open: bool, resolved: bool, hours: u32) {
    if open {
        if view.open.is_empty() {
            println!("nothing is wrong");
        } else {
            let mut table = Table::new(&["ALERT", "STATUS", "SINCE", "ACKNOWLEDGED", "SUMMARY"]);
            for a in &view.open {
                table.row(vec![
                    handle(&a.check, a.device.as_deref(), &a.subject),
                    status(a),
                    ago(caller.now, a.since),
                    a.acknowledged
                        .as_ref()
                        .map_or_else(String::new, |k| format!("{}: {}", k.by, k.comment)),
                    a.summary.clone(),
                ]);
            }
            table.print();
        }
    }
    if resolved {
        if open {
            println!();
        }
        if view.resolved.is_empty() {
            println!("nothing recovered in the last {hours} h");
            return;
        }
        let mut table = Table::new(&["RECOVERED", "WAS", "AT"]);
        for r in &view.resolved {
            table.row(vec![
                handle(&r.check, r.device.as_deref(), &r.subject),
                r.was.as_str().into(),
                ago(caller.now, r.at),
            ]);
        }
        table.print();
    }
}

fn status(a: &AlertInfo) -> String {
    if a.flapping {
        format!("{} (flapping)", a.status.as_str())
    } else {
        a.status.as_str().into()
    }
}

/// The check and subject an alert's name stands for, and the name to say back.
async fn resolve(
    state: &AppState,
    caller: &Caller,
    alert: &str,
) -> anyhow::Result<(String, String, String)> {
    let all = checks::list(state, caller).await?;
    // A check's own name may hold an `@`: the whole name first, then CHECK@DEVICE.
    let (check, device) = match find(&all, alert, "check", |c| &c.name, |c| &c.id) {
        Ok(c) => (c, None),
        Err(e) => match alert.rsplit_once('@') {
            Some((check, device)) => (
                find(&all, check, "check", |c| &c.name, |c| &c.id)?,
                Some(device),
            ),
            None => return Err(e),
        },
    };
    if check.target.is_empty() {
        if device.is_some() {
            bail!(
                "{} is a network monitor: name it without @DEVICE",
                Escaped(&check.name)
            );
        }
        return Ok((check.id.clone(), String::new(), check.name.clone()));
    }
    if let Some(item) =
        device.filter(|d| d.starts_with(steward_core::posture::manual::SUBJECT_PREFIX))
    {
        return Ok((
            check.id.clone(),
            item.to_string(),
            handle(&check.name, None, item),
        ));
    }
    if let Some(device) = device {
        let d = devices::find_by_name_or_id(state, caller, device).await?;
        return Ok((
            check.id.clone(),
            d.id.clone(),
            handle(&check.name, Some(&d.name), &d.id),
        ));
    }
    let open = alerts::of_check(state, caller, &check.id).await?;
    match open.as_slice() {
        [] => bail!("{} has no open problem", Escaped(&check.name)),
        [one] => Ok((
            check.id.clone(),
            one.subject.clone(),
            handle(&check.name, one.device.as_deref(), &one.subject),
        )),
        many => {
            let names: Vec<String> = many
                .iter()
                .map(|a| handle(&a.check, a.device.as_deref(), &a.subject))
                .collect();
            bail!(
                "{} has a problem on {} devices: name one ({})",
                Escaped(&check.name),
                many.len(),
                Escaped(&names.join(", "))
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alerts_are_named_by_what_they_are_about() {
        assert_eq!(
            super::handle("Disk space", Some("web-1"), "0b1e"),
            "Disk space@web-1"
        );
        assert_eq!(super::handle("shop website", None, ""), "shop website");
        assert_eq!(
            super::handle("Posture reviews", None, "manual:router-firmware"),
            "Posture reviews@manual:router-firmware"
        );
    }
}
