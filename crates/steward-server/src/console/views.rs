//! Display rows shared by several pages (a device in a table, a line of a timeline) and the
//! pager under paginated lists. Everything here is already a display string, so templates
//! only place it.

use steward_core::{ChangeKind, DeviceStatus, Timestamp};
use steward_store::{ChangeRecord, DeviceRecord};

use super::format::{date, relative, utc};

/// A device as a table row.
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub os: String,
    pub tags: Vec<String>,
    pub last_seen: String,
    pub last_seen_exact: String,
    pub enrolled: String,
    pub enrolled_exact: String,
}

impl DeviceRow {
    pub fn new(d: &DeviceRecord, now: Timestamp) -> Self {
        let status = DeviceStatus::derive(
            now,
            d.last_seen_at,
            d.checkin_interval_secs,
            d.revoked_at.is_some(),
        );
        Self {
            id: d.id.clone(),
            name: d.name.clone(),
            status: status.as_str(),
            os: format!("{} {}", d.os_name, d.os_version).trim().to_string(),
            tags: d.tags.clone(),
            last_seen: d.last_seen_at.map_or("never".into(), |t| relative(t, now)),
            last_seen_exact: d.last_seen_at.map(utc).unwrap_or_default(),
            enrolled: date(d.enrolled_at),
            enrolled_exact: utc(d.enrolled_at),
        }
    }
}

/// A timeline line.
pub struct ChangeRow {
    pub device_id: String,
    pub device_name: String,
    pub kind: &'static str,
    /// `security`, `software` or `system`: the icon's colour.
    pub category: &'static str,
    /// One character in the icon.
    pub icon: &'static str,
    /// What the icon means, for its tooltip and screen readers.
    pub label: &'static str,
    pub summary: String,
    pub when: String,
    pub exact: String,
}

impl ChangeRow {
    pub fn new(c: &ChangeRecord, now: Timestamp) -> Self {
        let kind = c.event.kind;
        let category = if kind.is_security_relevant() {
            "security"
        } else if kind.as_str().starts_with("package") {
            "software"
        } else {
            "system"
        };
        let (icon, label) = icon(kind);
        Self {
            device_id: c.device_id.clone(),
            device_name: c.device_name.clone(),
            kind: kind.as_str(),
            category,
            icon,
            label,
            summary: c.event.describe(),
            when: relative(c.at, now),
            exact: utc(c.at),
        }
    }
}

fn icon(kind: ChangeKind) -> (&'static str, &'static str) {
    use ChangeKind as K;
    match kind {
        K::Enrolled => ("★", "Enrolled"),
        K::PackageInstalled => ("+", "Software installed"),
        K::PackageRemoved => ("−", "Software removed"),
        K::PackageUpgraded => ("↑", "Software upgraded"),
        K::PackageDowngraded => ("↓", "Software downgraded"),
        K::AdminAdded | K::AdminRemoved => ("!", "Administrators"),
        K::AccountAdded | K::AccountRemoved | K::AccountChanged => ("@", "Accounts"),
        K::ListenerOpened | K::ListenerClosed => ("⇄", "Listening ports"),
        K::Rebooted => ("↻", "Reboot"),
        K::HostnameChanged | K::OsChanged | K::KernelChanged => ("◆", "Operating system"),
        K::CpuChanged | K::MemoryChanged | K::HardwareChanged => ("■", "Hardware"),
        K::FilesystemAdded | K::FilesystemRemoved | K::FilesystemResized => ("▤", "Disks"),
        K::InterfaceAdded | K::InterfaceRemoved | K::InterfaceChanged => ("⌁", "Network"),
        K::ChangesSummarised => ("…", "Many changes"),
    }
}

/// Previous/next links under a list, and where in the list this page is.
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    /// `51–100 of 283`.
    pub range: String,
    /// Empty when there is no previous (next) page.
    pub prev_href: String,
    pub next_href: String,
}

impl Pager {
    /// `href(page)` builds the link to another page of the same list.
    pub fn new(page: u32, per_page: u32, total: u64, href: impl Fn(u32) -> String) -> Self {
        let per_page = per_page.max(1);
        let pages = total.div_ceil(u64::from(per_page)).max(1) as u32;
        let first = u64::from(page.saturating_sub(1)) * u64::from(per_page) + 1;
        let last = (first + u64::from(per_page) - 1).min(total);
        Self {
            page,
            pages,
            range: if first > total {
                format!("0 of {total}")
            } else {
                format!("{first}–{last} of {total}")
            },
            prev_href: if page > 1 {
                href((page - 1).min(pages))
            } else {
                String::new()
            },
            next_href: if page < pages {
                href(page + 1)
            } else {
                String::new()
            },
        }
    }

    /// Whether there is more than one page (the pager is shown only then).
    pub fn needed(&self) -> bool {
        self.pages > 1 || self.page > 1
    }
}

/// A positive page number from a query value; anything else is page 1.
pub fn page_param(value: Option<&str>) -> u32 {
    value
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_and_range() {
        let href = |p: u32| format!("?p={p}");
        let first = Pager::new(1, 50, 120, href);
        assert_eq!((first.pages, first.range.as_str()), (3, "1–50 of 120"));
        assert_eq!(
            (first.prev_href.as_str(), first.next_href.as_str()),
            ("", "?p=2")
        );
        let last = Pager::new(3, 50, 120, href);
        assert_eq!(last.range, "101–120 of 120");
        assert_eq!(
            (last.prev_href.as_str(), last.next_href.as_str()),
            ("?p=2", "")
        );
        let single = Pager::new(1, 50, 7, href);
        assert!(!single.needed());
        // Past the end: a way back, nothing forward.
        let beyond = Pager::new(9, 50, 120, href);
        assert_eq!(beyond.range, "0 of 120");
        assert_eq!(
            (beyond.prev_href.as_str(), beyond.next_href.as_str()),
            ("?p=3", "")
        );
        assert!(beyond.needed());
    }

    #[test]
    fn page_numbers_are_forgiving() {
        assert_eq!(page_param(None), 1);
        assert_eq!(page_param(Some("3")), 3);
        assert_eq!(page_param(Some("0")), 1);
        assert_eq!(page_param(Some("-2")), 1);
        assert_eq!(page_param(Some("lots")), 1);
    }
}
