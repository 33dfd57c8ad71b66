//! Which devices a check, route or maintenance window covers, as the forms offer it: a
//! menu of every device, the caller's groups and devices, a tag (typed beside the menu), and
//! for windows a check. Values are the service's target strings (`all`, `group:ID`,
//! `device:ID`, `tag:NAME`, `check:ID`), so nothing is translated twice.

use std::collections::HashMap;

use steward_store::{DeviceFilter, DeviceSortKey};

use crate::service::Caller;
use crate::state::AppState;

/// Devices offered in the menus; past this many, a device is better covered by a group or
/// a tag (a device already chosen is always offered).
const MAX_DEVICES: u64 = 1_000;

/// The menu's entries: (value, label).
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub groups: Vec<(String, String)>,
    pub devices: Vec<(String, String)>,
    /// Only for maintenance windows: whole checks.
    pub checks: Vec<(String, String)>,
}

impl Choices {
    /// The caller's groups and devices (by name).
    pub async fn load(state: &AppState, caller: &Caller) -> crate::error::AppResult<Choices> {
        let groups = crate::groups::list(state, caller).await?;
        let filter = DeviceFilter {
            sort: DeviceSortKey::Name,
            limit: MAX_DEVICES,
            ..Default::default()
        };
        let (devices, _) = crate::devices::list(state, caller, &filter).await?;
        Ok(Choices {
            groups: groups
                .into_iter()
                .map(|g| (format!("group:{}", g.id), g.name))
                .collect(),
            devices: devices
                .into_iter()
                .filter(|d| d.revoked_at.is_none())
                .map(|d| (format!("device:{}", d.id), d.name))
                .collect(),
            checks: Vec::new(),
        })
    }

    /// Makes sure `value` (a form's current target) is offered, so that editing never
    /// silently moves a check to another target.
    pub fn keep(&mut self, value: &str) {
        let listed = |list: &[(String, String)]| list.iter().any(|(v, _)| v == value);
        if value.starts_with("device:") && !listed(&self.devices) {
            self.devices
                .push((value.to_string(), value["device:".len()..].to_string()));
        }
        if value.starts_with("group:") && !listed(&self.groups) {
            self.groups
                .push((value.to_string(), value["group:".len()..].to_string()));
        }
    }

    /// A target in words: "All devices", "Group Paris", "Device web-1", "Tag db",
    /// "Check shop-website".
    pub fn describe(&self, target: &str) -> String {
        let names: HashMap<&str, &str> = self
            .groups
            .iter()
            .chain(&self.devices)
            .chain(&self.checks)
            .map(|(v, l)| (v.as_str(), l.as_str()))
            .collect();
        let named = |prefix: &str, rest: &str| match names.get(target) {
            Some(name) => format!("{prefix} {name}"),
            None => format!("{prefix} {rest}"),
        };
        match target.split_once(':') {
            _ if target == "all" => "All devices".into(),
            _ if target.is_empty() => "Network (run by the server)".into(),
            Some(("group", rest)) => named("Group", rest),
            Some(("device", rest)) => named("Device", rest),
            Some(("tag", rest)) => format!("Devices tagged {rest}"),
            Some(("check", rest)) => named("Check", rest),
            _ => target.to_string(),
        }
    }
}

/// The form's menu value and tag as a target string: `tag` picks the typed tag.
pub fn value(choice: &str, tag: &str) -> String {
    match choice.trim() {
        "tag" => format!("tag:{}", tag.trim()),
        other => other.to_string(),
    }
}

/// A target string as the form's (menu value, tag).
pub fn split(target: &str) -> (String, String) {
    match target.strip_prefix("tag:") {
        Some(tag) => ("tag".into(), tag.into()),
        None => (target.into(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_and_describe() {
        assert_eq!(value("tag", " db "), "tag:db");
        assert_eq!(value("group:g1", "ignored"), "group:g1");
        assert_eq!(split("tag:db"), ("tag".to_string(), "db".to_string()));
        assert_eq!(split("device:d1"), ("device:d1".to_string(), String::new()));
        let mut choices = Choices {
            groups: vec![("group:g1".into(), "Paris".into())],
            ..Choices::default()
        };
        choices.keep("device:d9");
        choices.keep("group:g1");
        assert_eq!(choices.devices.len(), 1);
        assert_eq!(choices.groups.len(), 1);
        assert_eq!(choices.describe("group:g1"), "Group Paris");
        assert_eq!(choices.describe("device:d9"), "Device d9");
        assert_eq!(choices.describe("tag:db"), "Devices tagged db");
        assert_eq!(choices.describe("all"), "All devices");
        assert_eq!(choices.describe(""), "Network (run by the server)");
    }
}
