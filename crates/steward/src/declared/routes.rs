//! `[[routes]]` entries: which notification channel gets which notices. A channel with no
//! route gets every notice; one with routes gets those any of its routes matches.

use serde::Deserialize;
use steward_core::alerting::CheckStatus;
use steward_server::monitoring::channels::DeclaredRoute;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    channel: String,
    urgency: Option<String>,
    device: Option<String>,
    group: Option<String>,
    tag: Option<String>,
}

/// Reads one route; `origin` is where it was written.
pub fn route(table: &toml::Table, origin: String) -> Result<DeclaredRoute, String> {
    let e: RouteEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let channel = e.channel.trim().to_string();
    if channel.is_empty() {
        return Err("channel names a notification channel".into());
    }
    Ok(DeclaredRoute {
        channel,
        min_status: urgency(e.urgency.as_deref())?,
        devices: super::named(e.device, e.group, e.tag, None)?,
        origin,
    })
}

/// `warning` (the default: every problem), `unknown` (unknown and critical) or `critical`.
pub fn urgency(text: Option<&str>) -> Result<CheckStatus, String> {
    match text {
        None => Ok(CheckStatus::Warning),
        Some(t) => CheckStatus::parse(t)
            .filter(|s| s.is_problem())
            .ok_or_else(|| {
                format!(
                    "urgency is warning, unknown or critical (that and anything worse), not {t:?}"
                )
            }),
    }
}
