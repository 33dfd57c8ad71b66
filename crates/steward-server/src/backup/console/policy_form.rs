//! The backup policy form as typed, turned into the API's `SaveBackupPolicy`. Its target
//! menu is monitoring's (`monitoring::manage::targets`): the same target strings (`all`,
//! `group:ID`, `device:ID`, `tag:NAME`) as the service, so nothing is translated twice.

use steward_core::backup::retention::Keep;
use steward_proto::backup::SaveBackupPolicy;
use steward_store::BackupPolicyRecord;

use crate::backup::presets::{DEFAULT_KEEP, DEFAULT_PROTECTION_DAYS, DEFAULT_SCHEDULE, PRESETS};
use crate::console::FormFields;
use crate::monitoring::manage::targets;

/// The six `keep` counts, in the form's order: (field name, label).
pub const KEEP_FIELDS: [(&str, &str); 6] = [
    ("keep_last", "Last"),
    ("keep_hourly", "Hourly"),
    ("keep_daily", "Daily"),
    ("keep_weekly", "Weekly"),
    ("keep_monthly", "Monthly"),
    ("keep_yearly", "Yearly"),
];

/// The form as typed: kept as text, so that a refused form comes back exactly so.
#[derive(Debug, Clone)]
pub struct PolicyForm {
    pub name: String,
    /// The menu's value (`all`, `group:ID`, `device:ID`, `tag`) and the typed tag.
    pub target: String,
    pub tag: String,
    /// Empty for none.
    pub preset: String,
    /// One a line.
    pub paths: String,
    pub excludes: String,
    pub schedule: String,
    /// In [`KEEP_FIELDS`]' order.
    pub keep: [String; 6],
    pub protection_days: String,
    pub bandwidth_kib: String,
    pub enabled: bool,
}

impl PolicyForm {
    /// A new policy: every device, the defaults the service would take.
    pub fn new() -> Self {
        Self {
            name: String::new(),
            target: "all".into(),
            tag: String::new(),
            preset: String::new(),
            paths: String::new(),
            excludes: String::new(),
            schedule: DEFAULT_SCHEDULE.into(),
            keep: keep_texts(&DEFAULT_KEEP),
            protection_days: DEFAULT_PROTECTION_DAYS.to_string(),
            bandwidth_kib: String::new(),
            enabled: true,
        }
    }

    /// A stored policy, to edit.
    pub fn of(policy: &BackupPolicyRecord) -> Self {
        let view = crate::backup::policies::view(policy);
        let (target, tag) = targets::split(&policy.target);
        Self {
            name: policy.name.clone(),
            target,
            tag,
            preset: String::new(),
            paths: policy.paths.join("\n"),
            excludes: policy.excludes.join("\n"),
            schedule: policy.schedule.clone(),
            keep: keep_texts(&policy.keep),
            protection_days: view.protection_days.to_string(),
            bandwidth_kib: view
                .bandwidth_kib
                .map(|k| k.to_string())
                .unwrap_or_default(),
            enabled: policy.enabled,
        }
    }

    pub fn read(fields: &FormFields) -> Self {
        Self {
            name: fields.get("name").to_owned(),
            target: fields.get("target").to_owned(),
            tag: fields.get("tag").to_owned(),
            preset: fields.get("preset").to_owned(),
            paths: fields.get("paths").to_owned(),
            excludes: fields.get("excludes").to_owned(),
            schedule: fields.get("schedule").to_owned(),
            keep: KEEP_FIELDS.map(|(field, _)| fields.get(field).to_owned()),
            protection_days: fields.get("protection_days").to_owned(),
            bandwidth_kib: fields.get("bandwidth_kib").to_owned(),
            enabled: !fields.get("enabled").is_empty(),
        }
    }

    /// The request the service takes; an error names the field. An empty paths or excludes
    /// box leaves the choice to the service: the preset's, or (excludes) the usual ones.
    pub fn to_request(&self) -> Result<SaveBackupPolicy, String> {
        let [last, hourly, daily, weekly, monthly, yearly] = self.keep.clone();
        let count = |label: &str, text: &str| -> Result<u32, String> {
            match text.trim() {
                "" => Ok(0),
                t => t
                    .parse()
                    .map_err(|_| format!("keep {label}: a whole number, 0 for none")),
            }
        };
        let keep = Keep {
            last: count("last", &last)?,
            hourly: count("hourly", &hourly)?,
            daily: count("daily", &daily)?,
            weekly: count("weekly", &weekly)?,
            monthly: count("monthly", &monthly)?,
            yearly: count("yearly", &yearly)?,
        };
        let protection_days = match self.protection_days.trim() {
            "" => None,
            t => Some(
                t.parse()
                    .map_err(|_| "protection_days: a whole number of days".to_owned())?,
            ),
        };
        let bandwidth_kib = match self.bandwidth_kib.trim() {
            "" => None,
            t => Some(t.parse().map_err(|_| {
                "bandwidth_kib: a whole number of KiB/s; leave it empty for no limit".to_owned()
            })?),
        };
        let target = targets::value(&self.target, &self.tag);
        Ok(SaveBackupPolicy {
            name: self.name.clone(),
            target: Some(target),
            preset: Some(self.preset.trim().to_owned()).filter(|p| !p.is_empty()),
            paths: lines(&self.paths),
            excludes: lines(&self.excludes),
            schedule: Some(self.schedule.clone()),
            keep: Some(keep),
            protection_days,
            bandwidth_kib,
            enabled: Some(self.enabled),
        })
    }

    /// The `keep` count at `i` of [`KEEP_FIELDS`] (for the template).
    pub fn keep_at(&self, i: &usize) -> &str {
        self.keep.get(*i).map_or("", String::as_str)
    }
}

fn keep_texts(keep: &Keep) -> [String; 6] {
    [
        keep.last,
        keep.hourly,
        keep.daily,
        keep.weekly,
        keep.monthly,
        keep.yearly,
    ]
    .map(|n| n.to_string())
}

/// The non-empty lines of a box, or `None` when there are none.
fn lines(text: &str) -> Option<Vec<String>> {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    (!lines.is_empty()).then_some(lines)
}

/// The presets offered: (name, description).
pub fn presets() -> Vec<(&'static str, &'static str)> {
    PRESETS.iter().map(|p| (p.name, p.description)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_form_becomes_the_request() {
        let mut form = PolicyForm::new();
        form.name = "servers".into();
        form.target = "tag".into();
        form.tag = " db ".into();
        form.preset = "linux-server".into();
        form.paths = "/etc\n\n  /srv \n".into();
        form.bandwidth_kib = "512".into();
        let request = form.to_request().unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(request.target.as_deref(), Some("tag:db"));
        assert_eq!(request.preset.as_deref(), Some("linux-server"));
        assert_eq!(request.paths, Some(vec!["/etc".into(), "/srv".into()]));
        assert_eq!(request.excludes, None);
        assert_eq!(request.keep, Some(DEFAULT_KEEP));
        assert_eq!(request.protection_days, Some(DEFAULT_PROTECTION_DAYS));
        assert_eq!(request.bandwidth_kib, Some(512));
        form.keep[2] = "many".into();
        let refused = form.to_request().err().unwrap_or_default();
        assert!(refused.starts_with("keep daily:"), "{refused}");
    }
}
