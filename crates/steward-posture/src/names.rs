//! The stable names and the titles of sections and severities, for reports, JSON and CSV.

use crate::{Section, Severity};

impl Section {
    /// The small-business checklist's eight sections, in its order.
    pub const ALL: [Section; 8] = [
        Section::Hardware,
        Section::Network,
        Section::Software,
        Section::Security,
        Section::Backup,
        Section::Support,
        Section::UserAccess,
        Section::Cloud,
    ];

    /// As packs write it: `user-access`.
    pub fn id(self) -> &'static str {
        match self {
            Section::Hardware => "hardware",
            Section::Network => "network",
            Section::Software => "software",
            Section::Security => "security",
            Section::Backup => "backup",
            Section::Support => "support",
            Section::UserAccess => "user-access",
            Section::Cloud => "cloud",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Section::Hardware => "Hardware",
            Section::Network => "Network",
            Section::Software => "Software",
            Section::Security => "Security",
            Section::Backup => "Backup and disaster recovery",
            Section::Support => "IT support and maintenance",
            Section::UserAccess => "User access",
            Section::Cloud => "Cloud",
        }
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_ids_are_what_packs_write() {
        for section in Section::ALL {
            let parsed: Section = toml::from_str::<toml::Table>(&format!("s = {:?}", section.id()))
                .unwrap()
                .get("s")
                .unwrap()
                .clone()
                .try_into()
                .unwrap();
            assert_eq!(parsed, section);
        }
    }
}
