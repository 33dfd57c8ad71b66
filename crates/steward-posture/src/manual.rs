//! Manual items: the questions only a person can answer, because no agent can see the
//! answer (the router's firmware, whether staff were trained, where the offline backup
//! is). Each cites the CIS Safeguards and the Cyber Essentials requirement its answer
//! evidences, and says how often it must be confirmed again; an answer past its review
//! date counts as failing. The list is kept short enough for a business owner to answer
//! in an afternoon.

use crate::Section;

/// One question a person answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManualItem {
    /// Kebab-case, stable: stored answers refer to it.
    pub id: &'static str,
    pub title: &'static str,
    pub section: Section,
    /// What the person answers, yes or no, with a note or a file as evidence.
    pub question: &'static str,
    /// Steward's words: how a small business meets it.
    pub guidance: &'static str,
    /// CIS Controls v8.1 IG1 Safeguard ids the answer evidences.
    pub cis: &'static [&'static str],
    /// The Cyber Essentials v3.3 requirement it evidences, if any.
    pub cyber_essentials: Option<&'static str>,
    /// How many days an answer stands before it must be confirmed again.
    pub review_days: u16,
}

/// Review periods. Quarterly for what changes under the business's feet (firmware,
/// updates, cloud sign-in settings), half-yearly for what drifts (accounts, backups),
/// yearly for documents and training.
const QUARTERLY: u16 = 90;
const HALF_YEARLY: u16 = 180;
const YEARLY: u16 = 365;

const ITEMS: &[ManualItem] = &[
    // Hardware
    ManualItem {
        id: "devices-accounted-for",
        title: "Every device is accounted for",
        section: Section::Hardware,
        question: "Is every computer, server, phone, tablet and network device the business uses either enrolled in Steward or on your list of other devices, and was every unknown device found since the last review enrolled, isolated or removed?",
        guidance: "Walk the office and compare what is plugged in and carried around with Steward's device list; add printers, phones and network gear to a short list of your own. Check the router's list of connected devices for anything nobody recognises.",
        cis: &["1.1", "1.2"],
        cyber_essentials: None,
        review_days: QUARTERLY,
    },
    ManualItem {
        id: "mobile-devices",
        title: "Phones and tablets are supported, locked and updated",
        section: Section::Hardware,
        question: "Does every phone and tablet used for work run an operating system version that still receives updates, with a screen lock and automatic updates on?",
        guidance: "Check each device's settings: a PIN, password or biometric lock (which also turns on its encryption), automatic updates on, and a version its maker still updates. Replace devices that no longer get updates.",
        cis: &["2.2", "3.6", "4.3"],
        cyber_essentials: Some("supported-software"),
        review_days: HALF_YEARLY,
    },
    // Network
    ManualItem {
        id: "router-firmware",
        title: "Router and firewall firmware is current",
        section: Section::Network,
        question: "Is the firmware of the router, firewall and any switches or access points the latest release, installed within 14 days of any security fix, and does the maker still support each device?",
        guidance: "Turn on automatic firmware updates where the device offers them; otherwise look at its administration page every fortnight. A device its maker no longer updates must be replaced.",
        cis: &["12.1"],
        cyber_essentials: Some("updates-within-14-days"),
        review_days: QUARTERLY,
    },
    ManualItem {
        id: "router-admin-password",
        title: "The router's administrator password is changed",
        section: Section::Network,
        question: "Has the default administrator password of the router, firewall, printers, cameras and storage boxes been replaced with a unique one kept in the password manager, and are they administered only over HTTPS or SSH?",
        guidance: "Sign in to each device's administration page, set a long unique password, store it in the password manager and turn off plain HTTP and Telnet administration.",
        cis: &["4.6", "4.7"],
        cyber_essentials: Some("default-passwords"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "boundary-firewall",
        title: "The internet connection is firewalled",
        section: Section::Network,
        question: "Does the router or firewall between the office and the internet refuse every inbound connection except those written down with a business reason, and is its administration page unreachable from the internet?",
        guidance: "Review the port forwarding and firewall rules, remove any nobody can explain, write down the reason for each one kept, and turn off remote administration or limit it to multi-factor access.",
        cis: &["4.2"],
        cyber_essentials: Some("firewalls"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "wifi-encryption",
        title: "Wi-Fi is encrypted",
        section: Section::Network,
        question: "Does the office Wi-Fi use WPA2 or WPA3 with a long passphrase known only to staff, with WPS turned off?",
        guidance: "Choose WPA3 (or WPA2 with AES) in the access point's settings, set a passphrase of at least 16 characters, turn off WPS, and change the passphrase when someone who knew it leaves.",
        cis: &["4.2"],
        cyber_essentials: Some("secure-configuration"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "network-segmentation",
        title: "Guests and gadgets are on their own network",
        section: Section::Network,
        question: "Are visitors, and devices such as cameras, televisions and smart speakers, on a network kept apart from the business's computers?",
        guidance: "Use the router's guest network (or a separate VLAN) for visitors and gadgets, and check that a device on it cannot reach the business's computers or shared drives.",
        cis: &["4.2"],
        cyber_essentials: Some("firewalls"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "dns-filtering",
        title: "DNS filtering blocks known malicious sites",
        section: Section::Network,
        question: "Do the office network and the business's devices use a DNS service that blocks known malicious and phishing sites?",
        guidance: "Set the router's DNS servers to a filtering resolver (Quad9 is free; UK public bodies can use the NCSC's Protective DNS) so every device on the network uses it.",
        cis: &["9.2"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    // Software
    ManualItem {
        id: "software-approval",
        title: "Only approved software is installed",
        section: Section::Software,
        question: "Is there a list of the software the business allows, and is software found on Steward's inventory that is not on it removed or approved within a month?",
        guidance: "Go through Steward's software inventory monthly, approve what the business needs with a reason, and uninstall the rest.",
        cis: &["2.3"],
        cyber_essentials: Some("secure-configuration"),
        review_days: HALF_YEARLY,
    },
    ManualItem {
        id: "update-process",
        title: "Updates have an owner and a deadline",
        section: Section::Software,
        question: "Is one person responsible for updates, are applications, browsers, email programs and browser extensions set to update themselves, and is every high-risk or critical update installed within 14 days?",
        guidance: "Turn on automatic updates in every application that offers it, remove browsers and extensions nobody needs, and let the named person work through Steward's findings, highest risk first, every fortnight.",
        cis: &["7.1", "7.2", "7.4", "9.1"],
        cyber_essentials: Some("updates-within-14-days"),
        review_days: QUARTERLY,
    },
    // Security
    ManualItem {
        id: "secure-configuration-process",
        title: "New devices are set up to a written standard",
        section: Section::Security,
        question: "Is every new computer and server set up from a written checklist (unneeded software and accounts removed, default passwords changed, Steward enrolled), reviewed in the last year?",
        guidance: "Keep a one-page setup checklist and follow it for each new device: enrol it in Steward first, then fix what Steward's checks report before the device goes into use.",
        cis: &["4.1", "4.7"],
        cyber_essentials: Some("secure-configuration"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "data-inventory",
        title: "The business knows what data it holds",
        section: Section::Security,
        question: "Is there a written list of the business's sensitive data (where it lives, who owns it, how long it is kept), and are old data and devices wiped or destroyed when no longer needed?",
        guidance: "List customer, staff and financial records with the system or service holding each, an owner and a retention period; delete what is past it, and wipe or shred disks and phones before they leave the business.",
        cis: &["3.1", "3.2", "3.4", "3.5"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    ManualItem {
        id: "audit-log-process",
        title: "Logs are kept long enough",
        section: Section::Security,
        question: "Has the business decided which logs it keeps (device logs, cloud sign-in and administrator logs) and for how long, and is there room to keep them that long?",
        guidance: "Keep at least 90 days of logs: check each cloud service's audit log retention and the space on devices that hold logs.",
        cis: &["8.1", "8.3"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    ManualItem {
        id: "staff-training",
        title: "Staff are trained in security",
        section: Section::Security,
        question: "Has everyone who uses the business's devices had security training in the last year, covering phishing, passwords and multi-factor authentication, handling data, accidental exposure, reporting incidents, devices that stop updating, and public Wi-Fi?",
        guidance: "Run a short session when someone joins and once a year for all (the NCSC's free Top Tips for Staff is a fair start), and record who attended.",
        cis: &[
            "14.1", "14.2", "14.3", "14.4", "14.5", "14.6", "14.7", "14.8",
        ],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    // Backup
    ManualItem {
        id: "offsite-backup",
        title: "One backup copy is off site or offline",
        section: Section::Backup,
        question: "Is a copy of the business's important data kept off site or offline, where ransomware on the office network could not delete or encrypt it?",
        guidance: "Keep Steward's backups on storage outside the office, or rotate an encrypted disk that is unplugged between backups; write down where the copy is.",
        cis: &["11.4"],
        cyber_essentials: None,
        review_days: HALF_YEARLY,
    },
    ManualItem {
        id: "recovery-plan",
        title: "There is a written recovery plan",
        section: Section::Backup,
        question: "Is there a written plan saying what is backed up, how often, who restores it, and what is brought back first after a loss?",
        guidance: "One page is enough: the systems in order of importance, where their backups are, who can restore them and how to reach that person.",
        cis: &["11.1"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    ManualItem {
        id: "recovery-plan-tested",
        title: "The recovery plan was tested",
        section: Section::Backup,
        question: "In the last six months, has someone followed the recovery plan to restore files and a whole device from backup, and noted how long it took?",
        guidance: "Pick a device and restore it onto spare hardware or a virtual machine by following the plan; fix the plan where it was wrong.",
        cis: &["11.1"],
        cyber_essentials: None,
        review_days: HALF_YEARLY,
    },
    // Support
    ManualItem {
        id: "helpdesk-process",
        title: "Staff know how to get help and report incidents",
        section: Section::Support,
        question: "Do staff know how to ask for IT help and how to report a suspected security incident at once, and is each request recorded?",
        guidance: "Give one address or number for IT help and incidents, put it on the office wall and in the staff handbook, and keep a simple log of what was reported and done.",
        cis: &["17.3"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    ManualItem {
        id: "service-providers",
        title: "Service providers are listed",
        section: Section::Support,
        question: "Is there a current list of every provider that holds the business's data or manages its IT, with what they do and a contact for each?",
        guidance: "List the IT provider, cloud services, payroll, accountancy and hosting, with the data each holds and how to reach them in an emergency.",
        cis: &["15.1"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    ManualItem {
        id: "incident-contacts",
        title: "Someone is in charge when things go wrong",
        section: Section::Support,
        question: "Is one person, with a deputy, named to take charge of a security incident, and are the contacts they need (IT provider, insurer, bank, police and data-protection regulator) written down where they can be found offline?",
        guidance: "Name the person and the deputy, and keep a printed sheet of contacts with them; in the UK, report fraud and cybercrime to Action Fraud and a personal data breach that puts people at risk to the ICO within 72 hours.",
        cis: &["17.1", "17.2"],
        cyber_essentials: None,
        review_days: YEARLY,
    },
    // User access
    ManualItem {
        id: "joiners-and-leavers",
        title: "Access is granted and removed on time",
        section: Section::UserAccess,
        question: "When someone joins or changes role, does a named person grant only the access the role needs, and are all of a leaver's accounts, cloud services included, disabled on their last day?",
        guidance: "Keep a joiner and leaver checklist listing every system and cloud service, and have the named person tick it off on the day.",
        cis: &["6.1", "6.2"],
        cyber_essentials: Some("user-access-control"),
        review_days: HALF_YEARLY,
    },
    ManualItem {
        id: "data-access",
        title: "Shared data is open only to those who need it",
        section: Section::UserAccess,
        question: "Are shared folders, drives and cloud storage open only to the people whose work needs them, with no public links left open?",
        guidance: "Review who can open each shared folder and cloud drive, remove people who no longer need it, and turn off sharing links that anyone can use.",
        cis: &["3.3"],
        cyber_essentials: Some("user-access-control"),
        review_days: YEARLY,
    },
    ManualItem {
        id: "remote-access-mfa",
        title: "Remote access needs a second factor",
        section: Section::UserAccess,
        question: "Does every way into the business's network or devices from outside (VPN, remote desktop, remote support tools) require multi-factor authentication?",
        guidance: "Turn on multi-factor authentication in the VPN and remote support tools, and never expose remote desktop directly to the internet.",
        cis: &["6.4"],
        cyber_essentials: Some("user-access-control"),
        review_days: HALF_YEARLY,
    },
    // Cloud
    ManualItem {
        id: "cloud-mfa",
        title: "Cloud services require multi-factor authentication",
        section: Section::Cloud,
        question: "Is multi-factor authentication on for every user, administrators included, of every cloud service the business uses that offers it?",
        guidance: "Go through the list of service providers and turn multi-factor authentication on for all users in each; prefer an authenticator app, a passkey or a security key over text messages.",
        cis: &["6.3", "6.5"],
        cyber_essentials: Some("cloud-mfa"),
        review_days: QUARTERLY,
    },
    ManualItem {
        id: "cloud-admin-accounts",
        title: "Cloud administrators use separate accounts",
        section: Section::Cloud,
        question: "Do the people who administer cloud services do so from a separate administrator account, used for nothing else, and does only someone who needs it have one?",
        guidance: "Create a separate administrator account for each person who administers a service, remove administrator rights from everyday accounts, and review the list of administrators.",
        cis: &["5.4", "6.5"],
        cyber_essentials: Some("administrator-accounts"),
        review_days: HALF_YEARLY,
    },
];

/// Every manual item, grouped by section.
pub fn items() -> &'static [ManualItem] {
    ITEMS
}

/// A manual item by id (`"router-firmware"`).
pub fn item(id: &str) -> Option<&'static ManualItem> {
    ITEMS.iter().find(|m| m.id == id)
}
