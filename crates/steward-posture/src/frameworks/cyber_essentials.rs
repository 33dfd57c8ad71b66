//! UK Cyber Essentials v3.3: its five technical themes, one requirement per theme, and the
//! narrower requirements Steward reports on by name, some of which fail a whole
//! assessment on their own. The ids are Steward's (packs and manual items cite them);
//! titles and guidance are Steward's words, not the scheme's.
//!
//! v3.3 of the NCSC's requirements is assessed with the "Danzell" question set, used for
//! new assessments from late April 2026 (public write-ups give 27 or 28 April). Under it an
//! answer that fails any of these fails the assessment outright: multi-factor
//! authentication on cloud services (questions A7.16 and A7.17) and high-risk or critical
//! updates installed within 14 days (A6.4 for operating systems and firmware, A6.5 for
//! applications). Unsupported software is marked here as failing too: the scheme has
//! always refused it in scope (it must be removed, or moved out of scope), so no
//! assessment passes with it.

/// The version every requirement here belongs to.
pub const CYBER_ESSENTIALS_VERSION: &str = "Cyber Essentials v3.3";

/// The question set assessors use for that version.
pub const CYBER_ESSENTIALS_QUESTION_SET: &str = "Danzell";

/// The five technical themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Theme {
    Firewalls,
    SecureConfiguration,
    SecurityUpdateManagement,
    UserAccessControl,
    MalwareProtection,
}

impl Theme {
    /// Every theme, in the scheme's order.
    pub const ALL: [Theme; 5] = [
        Theme::Firewalls,
        Theme::SecureConfiguration,
        Theme::SecurityUpdateManagement,
        Theme::UserAccessControl,
        Theme::MalwareProtection,
    ];

    /// The theme's id, the same as its own requirement's (`"secure-configuration"`).
    pub fn id(self) -> &'static str {
        match self {
            Theme::Firewalls => "firewalls",
            Theme::SecureConfiguration => "secure-configuration",
            Theme::SecurityUpdateManagement => "security-update-management",
            Theme::UserAccessControl => "user-access-control",
            Theme::MalwareProtection => "malware-protection",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Theme::Firewalls => "Firewalls",
            Theme::SecureConfiguration => "Secure configuration",
            Theme::SecurityUpdateManagement => "Security update management",
            Theme::UserAccessControl => "User access control",
            Theme::MalwareProtection => "Malware protection",
        }
    }
}

/// One requirement Steward reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// Kebab-case, stable: packs and manual items cite it.
    pub id: &'static str,
    pub theme: Theme,
    pub title: &'static str,
    /// Steward's words: what a small business does, and how Steward knows.
    pub guidance: &'static str,
    /// A failure here fails the whole assessment, whatever else passes.
    pub auto_fail: bool,
}

// Short on purpose: the table below reads as data, one entry each.
const fn req(
    id: &'static str,
    theme: Theme,
    title: &'static str,
    auto_fail: bool,
    guidance: &'static str,
) -> Requirement {
    Requirement {
        id,
        theme,
        title,
        guidance,
        auto_fail,
    }
}

const REQUIREMENTS: &[Requirement] = &[
    req(
        "firewalls",
        Theme::Firewalls,
        "Every device is behind a firewall",
        false,
        "The office router's firewall and each device's own firewall refuse connections from the internet that nobody approved. Steward checks each device's firewall; a person confirms the router's.",
    ),
    req(
        "secure-configuration",
        Theme::SecureConfiguration,
        "Devices and software are set up securely",
        false,
        "Remove software and accounts nobody uses, turn off what is not needed and lock devices when idle. Steward checks its devices' settings against its own standard.",
    ),
    req(
        "security-update-management",
        Theme::SecurityUpdateManagement,
        "Software is licensed, supported and updated",
        false,
        "Keep every operating system, application and firmware licensed, supported by its maker and set to update automatically. Steward checks its devices' updates and operating system support.",
    ),
    req(
        "user-access-control",
        Theme::UserAccessControl,
        "Accounts are controlled",
        false,
        "Give each person their own account with only the access their work needs, and remove it when they leave. Steward lists accounts on its devices; a person confirms joiners and leavers are handled.",
    ),
    req(
        "malware-protection",
        Theme::MalwareProtection,
        "Malware is stopped",
        false,
        "Run anti-malware on every device that supports it, or allow only approved applications to run. Steward checks that protection is running and up to date.",
    ),
    req(
        "updates-within-14-days",
        Theme::SecurityUpdateManagement,
        "High-risk updates are installed within 14 days",
        true,
        "Install every high-risk or critical security update, for operating systems, firmware and applications, within 14 days of its release. Steward checks for security updates waiting on its devices; a person confirms it for routers, phones and applications it cannot see.",
    ),
    req(
        "supported-software",
        Theme::SecurityUpdateManagement,
        "No unsupported software is in use",
        true,
        "Replace or remove any operating system or application its maker no longer supports. Steward checks each device's operating system release is still supported.",
    ),
    req(
        "cloud-mfa",
        Theme::UserAccessControl,
        "Cloud services require multi-factor authentication",
        true,
        "Turn on multi-factor authentication for every user of every cloud service that offers it, even at extra cost. Steward asks a person to confirm it, service by service.",
    ),
    req(
        "default-passwords",
        Theme::SecureConfiguration,
        "Default passwords are changed",
        false,
        "Change every default or guessable password on routers, devices and software before they are used. Steward checks its devices for accounts without a password; a person confirms it for network devices.",
    ),
    req(
        "administrator-accounts",
        Theme::UserAccessControl,
        "Administrator accounts are kept for administration",
        false,
        "Use administrator accounts only to administer, never to read email or browse, and give them only to those who need them. Steward checks who holds administrator rights on its devices.",
    ),
];

/// The requirements, the five themes' own first.
pub fn cyber_essentials() -> &'static [Requirement] {
    REQUIREMENTS
}

/// A requirement by id (`"cloud-mfa"`).
pub fn requirement(id: &str) -> Option<&'static Requirement> {
    REQUIREMENTS.iter().find(|r| r.id == id)
}
