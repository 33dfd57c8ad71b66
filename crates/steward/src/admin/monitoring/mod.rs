//! `steward admin checks|alerts|maintenance|channels`: monitoring from the shell, through
//! the same service functions as the API (`steward_server::monitoring::{checks, alerts,
//! windows, channels}`), so the rules, the refusals and the audit entries are the same.
//! Tables by default, `--json` (the API's shapes) for scripts.

mod alerts;
mod channels;
mod checks;
mod maintenance;
pub(crate) mod table;

pub use alerts::run as alerts;
pub use channels::{run as channels, sealing_key};
pub use checks::run as checks;
pub use maintenance::run as maintenance;

use anyhow::bail;
use steward_core::checks::Target;
use steward_server::service::Caller;
use steward_server::{AppState, devices, groups};

/// Prints `value` as the API would answer it.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The one item of `items` whose name (or else id) is `wanted`.
fn find<'a, T>(
    items: &'a [T],
    wanted: &str,
    what: &str,
    name: impl Fn(&T) -> &str,
    id: impl Fn(&T) -> &str,
) -> anyhow::Result<&'a T> {
    match items
        .iter()
        .find(|i| name(i) == wanted)
        .or_else(|| items.iter().find(|i| id(i) == wanted))
    {
        Some(item) => Ok(item),
        None => bail!(
            "no {what} named {:?}",
            steward_core::Escaped(wanted).to_string()
        ),
    }
}

/// What a stored target covers, in words with names: `network`, `every device`, `group
/// Shop`, `device web-1`, `tag web`, `check shop-website`.
pub(crate) async fn covers(state: &AppState, caller: &Caller, target: &str) -> String {
    if target.is_empty() {
        return "network".into();
    }
    if let Some(id) = target.strip_prefix("check:") {
        return match steward_server::monitoring::checks::get(state, caller, id).await {
            Ok(c) => format!("check {}", c.name),
            Err(_) => format!("check {id} (deleted)"),
        };
    }
    match Target::parse(target) {
        Ok(Target::All) => "every device".into(),
        Ok(Target::Tag(tag)) => format!("tag {tag}"),
        Ok(Target::Group(id)) => match groups::list(state, caller).await {
            Ok(list) => list
                .into_iter()
                .find(|g| g.id == id)
                .map_or_else(|| format!("group {id}"), |g| format!("group {}", g.name)),
            Err(_) => format!("group {id}"),
        },
        Ok(Target::Device(id)) => match devices::find_by_name_or_id(state, caller, &id).await {
            Ok(d) => format!("device {}", d.name),
            Err(_) => format!("device {id}"),
        },
        Err(_) => target.to_string(),
    }
}

/// `5 min`, `30 s`: how long, for people.
fn span_secs(secs: u64) -> String {
    steward_core::time::human_duration_ms(
        i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX),
    )
}

/// How long ago `at` was, from `now`: `3 h 5 min ago`.
fn ago(now: steward_core::Timestamp, at: steward_core::Timestamp) -> String {
    format!(
        "{} ago",
        steward_core::time::human_duration_ms(now.since(at))
    )
}
