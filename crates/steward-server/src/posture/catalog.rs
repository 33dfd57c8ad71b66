//! What the server knows of every check: the agents' built-in pack (the server embeds the
//! same pack the agents do) and the checks the server judges itself from what it already
//! knows (backups, restore drills, check-ins, the patching capability's update listings),
//! each with the metadata the report shows.

use std::sync::OnceLock;

use steward_posture::{Section, ServerCheck, Severity};

use super::report::CheckMeta;

/// A recent successful backup.
pub const BACKUP_RECENT: &str = "backup-recent";
/// A restore proven by a drill.
pub const RESTORE_PROVEN: &str = "restore-proven";
/// The device reports its inventory.
pub const INVENTORY_REPORTING: &str = "inventory-reporting";
/// No security update has waited longer than 14 days, by the patching capability's listing.
pub const PATCHES_WITHIN_14_DAYS: &str = "patches-within-14-days";

/// The server's own checks, for the frameworks' coverage.
pub const SERVER_CHECKS: &[ServerCheck<'static>] = &[
    ServerCheck {
        id: BACKUP_RECENT,
        cis: &["11.2", "11.3"],
    },
    ServerCheck {
        id: RESTORE_PROVEN,
        cis: &["11.1", "11.4"],
    },
    ServerCheck {
        id: INVENTORY_REPORTING,
        cis: &["1.1", "2.1", "5.1"],
    },
    ServerCheck {
        id: PATCHES_WITHIN_14_DAYS,
        cis: &["7.3", "7.4"],
    },
];

fn server_meta() -> Vec<CheckMeta> {
    let cis = |id: &str| {
        SERVER_CHECKS
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.cis.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default()
    };
    vec![
        CheckMeta {
            id: BACKUP_RECENT.into(),
            title: "The device has a recent successful Steward backup".into(),
            section: Section::Backup,
            severity: Severity::High,
            remediation: "Give the device a backup policy (Backups → Policies) and see that its last backup succeeded; a failed or late backup raises its own alert.".into(),
            cis: cis(BACKUP_RECENT),
            cyber_essentials: None,
            kind: "server",
        },
        CheckMeta {
            id: RESTORE_PROVEN.into(),
            title: "A restore of the device's backups was proven by a drill".into(),
            section: Section::Backup,
            severity: Severity::Medium,
            remediation: "Run a restore drill (the device's Backups page, or `steward admin backup drill`); Steward runs one weekly once the device has a repository.".into(),
            cis: cis(RESTORE_PROVEN),
            cyber_essentials: None,
            kind: "server",
        },
        CheckMeta {
            id: INVENTORY_REPORTING.into(),
            title: "The device reports its hardware, software and accounts".into(),
            section: Section::Support,
            severity: Severity::Medium,
            remediation: "Start the agent (`steward agent run`) or find out why the device went silent; a device out of reach is a device nobody patches.".into(),
            cis: cis(INVENTORY_REPORTING),
            cyber_essentials: None,
            kind: "server",
        },
        CheckMeta {
            id: PATCHES_WITHIN_14_DAYS.into(),
            title: "No security update has waited more than 14 days (the agent's update listing)".into(),
            section: Section::Software,
            severity: Severity::High,
            remediation: "Install the pending security updates (Updates → the device → Install now), or give the device a patch policy that installs security updates in a weekly window.".into(),
            cis: cis(PATCHES_WITHIN_14_DAYS),
            cyber_essentials: Some("updates-within-14-days".into()),
            kind: "server",
        },
    ]
}

/// Every check the report shows, agents' first, in pack order.
pub fn checks() -> &'static [CheckMeta] {
    static CHECKS: OnceLock<Vec<CheckMeta>> = OnceLock::new();
    CHECKS.get_or_init(|| {
        steward_posture::builtin()
            .checks
            .into_iter()
            .map(|c| CheckMeta {
                id: c.id,
                title: c.title,
                section: c.section,
                severity: c.severity,
                remediation: c.remediation,
                cis: c.cis,
                cyber_essentials: c.cyber_essentials,
                kind: "check",
            })
            .chain(server_meta())
            .collect()
    })
}

pub fn check(id: &str) -> Option<&'static CheckMeta> {
    checks().iter().find(|c| c.id == id)
}
