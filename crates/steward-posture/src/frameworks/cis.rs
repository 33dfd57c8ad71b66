//! CIS Critical Security Controls v8.1, Implementation Group 1: the 15 Controls it draws
//! on and its 56 Safeguards. Titles are the Safeguards' names (checked against the v8.1
//! list); the guidance is Steward's own, never CIS's description text, which is licensed
//! for non-commercial use only.

/// The version every id and title here belongs to.
pub const CIS_VERSION: &str = "CIS Critical Security Controls v8.1";

/// How many Safeguards each of the 18 Controls has in v8.1 (Control 1 first): 153 in
/// all. Lets a check cite a Safeguard beyond IG1 (`"4.8"`) and still be proven real.
const SAFEGUARDS_PER_CONTROL: [u8; 18] =
    [5, 7, 14, 12, 6, 8, 7, 12, 7, 7, 5, 8, 11, 9, 7, 14, 9, 5];

/// One of the 18 CIS Controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// 1 to 18.
    pub number: u8,
    pub title: &'static str,
}

/// One IG1 Safeguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Safeguard {
    /// `"4.1"`: the Control's number, a dot, the Safeguard's number within it.
    pub id: &'static str,
    /// The Control it belongs to (the part of `id` before the dot).
    pub control: u8,
    /// The Safeguard's name, as CIS gives it.
    pub title: &'static str,
    /// Steward's words: what a small business does to meet it, and how Steward knows.
    pub guidance: &'static str,
}

// `ctl` and `sg` are short on purpose: the tables below read as data, one entry each.
const fn ctl(number: u8, title: &'static str) -> Control {
    Control { number, title }
}

const CONTROLS: &[Control] = &[
    ctl(1, "Inventory and Control of Enterprise Assets"),
    ctl(2, "Inventory and Control of Software Assets"),
    ctl(3, "Data Protection"),
    ctl(4, "Secure Configuration of Enterprise Assets and Software"),
    ctl(5, "Account Management"),
    ctl(6, "Access Control Management"),
    ctl(7, "Continuous Vulnerability Management"),
    ctl(8, "Audit Log Management"),
    ctl(9, "Email and Web Browser Protections"),
    ctl(10, "Malware Defenses"),
    ctl(11, "Data Recovery"),
    ctl(12, "Network Infrastructure Management"),
    ctl(14, "Security Awareness and Skills Training"),
    ctl(15, "Service Provider Management"),
    ctl(17, "Incident Response Management"),
];

const fn sg(
    id: &'static str,
    control: u8,
    title: &'static str,
    guidance: &'static str,
) -> Safeguard {
    Safeguard {
        id,
        control,
        title,
        guidance,
    }
}

const IG1: &[Safeguard] = &[
    sg(
        "1.1",
        1,
        "Establish and Maintain Detailed Enterprise Asset Inventory",
        "Keep one list of every computer, server, phone and network device the business owns. Steward's inventory lists each enrolled device with its hardware and owner, kept current by its agent.",
    ),
    sg(
        "1.2",
        1,
        "Address Unauthorized Assets",
        "When a device turns up that nobody listed, enrol it, isolate it or remove it within a week. Steward asks a person to confirm this, because it only sees devices that run its agent.",
    ),
    sg(
        "2.1",
        2,
        "Establish and Maintain a Software Inventory",
        "Know what software is installed on every device and why it is there. Steward's inventory lists each enrolled device's installed packages and their versions.",
    ),
    sg(
        "2.2",
        2,
        "Ensure Authorized Software is Currently Supported",
        "Run only software whose maker still publishes security fixes for the version in use. Steward checks that each device's operating system release is still supported.",
    ),
    sg(
        "2.3",
        2,
        "Address Unauthorized Software",
        "Decide which software the business allows, and remove anything else once a month. Steward asks a person to confirm the review is done.",
    ),
    sg(
        "3.1",
        3,
        "Establish and Maintain a Data Management Process",
        "Write down who owns each kind of business data, how it is handled, how long it is kept and how it is destroyed. Steward asks a person to confirm the document exists and was reviewed this year.",
    ),
    sg(
        "3.2",
        3,
        "Establish and Maintain a Data Inventory",
        "List where the business's sensitive data lives: which systems, folders and cloud services. Steward asks a person to confirm the list is current.",
    ),
    sg(
        "3.3",
        3,
        "Configure Data Access Control Lists",
        "Give each person access only to the folders, shares and services their work needs. Steward asks a person to confirm access was reviewed.",
    ),
    sg(
        "3.4",
        3,
        "Enforce Data Retention",
        "Delete data once the business no longer needs it or the law no longer requires it. Steward asks a person to confirm retention periods are set and followed.",
    ),
    sg(
        "3.5",
        3,
        "Securely Dispose of Data",
        "Wipe or destroy disks, phones and paper before they leave the business. Steward asks a person to confirm how disposal is done.",
    ),
    sg(
        "3.6",
        3,
        "Encrypt Data on End-User Devices",
        "Turn on full-disk encryption on every laptop and desktop, so a lost device does not leak data. Steward checks that each device's disks are encrypted.",
    ),
    sg(
        "4.1",
        4,
        "Establish and Maintain a Secure Configuration Process",
        "Set up every new device the same safe way, from a written standard reviewed each year. Steward checks devices against its own standard settings and asks a person to confirm the standard is used.",
    ),
    sg(
        "4.2",
        4,
        "Establish and Maintain a Secure Configuration Process for Network Infrastructure",
        "Configure the router, firewall and Wi-Fi from a written standard: strong encryption, no remote administration from the internet, guests kept apart. Steward asks a person to confirm it.",
    ),
    sg(
        "4.3",
        4,
        "Configure Automatic Session Locking on Enterprise Assets",
        "Lock screens and sessions after a few minutes of inactivity. Steward checks each device's idle lock setting.",
    ),
    sg(
        "4.4",
        4,
        "Implement and Manage a Firewall on Servers",
        "Run a firewall on every server that refuses connections nobody needs. Steward checks that each server's firewall is active and denies by default.",
    ),
    sg(
        "4.5",
        4,
        "Implement and Manage a Firewall on End-User Devices",
        "Keep the built-in firewall on for every laptop and desktop, allowing in only what is needed. Steward checks each device's firewall.",
    ),
    sg(
        "4.6",
        4,
        "Securely Manage Enterprise Assets and Software",
        "Administer devices only over encrypted channels (SSH, HTTPS), never over plain-text ones such as Telnet or HTTP. Steward asks a person to confirm it for routers, printers and other network devices.",
    ),
    sg(
        "4.7",
        4,
        "Manage Default Accounts on Enterprise Assets and Software",
        "Change or disable the default accounts and passwords that routers, printers, cameras and software ship with. Steward asks a person to confirm it for devices it cannot see.",
    ),
    sg(
        "5.1",
        5,
        "Establish and Maintain an Inventory of Accounts",
        "Know every user and administrator account on every device and service. Steward's inventory lists each enrolled device's accounts and who can administer it.",
    ),
    sg(
        "5.2",
        5,
        "Use Unique Passwords",
        "Give every account its own strong password, kept in a password manager, and never reuse one. Steward checks devices for accounts without a password and for password policies that allow weak ones.",
    ),
    sg(
        "5.3",
        5,
        "Disable Dormant Accounts",
        "Disable accounts nobody has used for 45 days. Steward checks each device for accounts that can sign in but have not for that long.",
    ),
    sg(
        "5.4",
        5,
        "Restrict Administrator Privileges to Dedicated Administrator Accounts",
        "Do everyday work from an ordinary account and keep administrator rights for separate accounts used only to administer. Steward checks who holds administrator rights on each device.",
    ),
    sg(
        "6.1",
        6,
        "Establish an Access Granting Process",
        "Have one named person grant access when someone joins or changes role, only to what the role needs. Steward asks a person to confirm the process.",
    ),
    sg(
        "6.2",
        6,
        "Establish an Access Revoking Process",
        "Disable every account of a person who leaves on their last day, cloud services included. Steward asks a person to confirm the process.",
    ),
    sg(
        "6.3",
        6,
        "Require MFA for Externally-Exposed Applications",
        "Turn on multi-factor authentication for every internet-facing service that offers it, email and file sharing first. Steward asks a person to confirm it for each cloud service.",
    ),
    sg(
        "6.4",
        6,
        "Require MFA for Remote Network Access",
        "Require multi-factor authentication for the VPN, remote desktop and remote support tools. Steward asks a person to confirm it.",
    ),
    sg(
        "6.5",
        6,
        "Require MFA for Administrative Access",
        "Require multi-factor authentication for every administrator account, on devices and on cloud services. Steward asks a person to confirm it for cloud services.",
    ),
    sg(
        "7.1",
        7,
        "Establish and Maintain a Vulnerability Management Process",
        "Name who watches for security updates and how quickly each kind must be installed. Steward asks a person to confirm the process is written down.",
    ),
    sg(
        "7.2",
        7,
        "Establish and Maintain a Remediation Process",
        "Fix what is found in order of risk and review what is still open every month. Steward ranks its own findings by risk; a person confirms they are worked through.",
    ),
    sg(
        "7.3",
        7,
        "Perform Automated Operating System Patch Management",
        "Let operating systems install security updates automatically. Steward checks that automatic security updates are on and that none are waiting.",
    ),
    sg(
        "7.4",
        7,
        "Perform Automated Application Patch Management",
        "Let applications, browsers and their extensions update themselves. Steward asks a person to confirm it for applications outside the operating system's updates.",
    ),
    sg(
        "8.1",
        8,
        "Establish and Maintain an Audit Log Management Process",
        "Decide which logs the business keeps, where, and for how long. Steward asks a person to confirm the decision is written down.",
    ),
    sg(
        "8.2",
        8,
        "Collect Audit Logs",
        "Keep logging turned on for every device and service. Steward checks that each device's system log and audit logging are running.",
    ),
    sg(
        "8.3",
        8,
        "Ensure Adequate Audit Log Storage",
        "Give logs enough space to last the period the business decided on. Steward asks a person to confirm it.",
    ),
    sg(
        "9.1",
        9,
        "Ensure Use of Only Fully Supported Browsers and Email Clients",
        "Use only current, supported browsers and email programs, kept updated. Steward asks a person to confirm it.",
    ),
    sg(
        "9.2",
        9,
        "Use DNS Filtering Services",
        "Point the office network at a DNS service that blocks known malicious sites. Steward asks a person to confirm it.",
    ),
    sg(
        "10.1",
        10,
        "Deploy and Maintain Anti-Malware Software",
        "Run anti-malware protection on every device that supports it. Steward checks that it is installed and running.",
    ),
    sg(
        "10.2",
        10,
        "Configure Automatic Anti-Malware Signature Updates",
        "Let anti-malware update its signatures by itself. Steward checks that automatic updates are on and the signatures are recent.",
    ),
    sg(
        "10.3",
        10,
        "Disable Autorun and Autoplay for Removable Media",
        "Stop devices running anything automatically from USB sticks and discs. Steward checks the autorun setting on each device.",
    ),
    sg(
        "11.1",
        11,
        "Establish and Maintain a Data Recovery Process",
        "Write down what is backed up, how often, who restores it and in what order. Steward records restores it has proven and asks a person to confirm the plan.",
    ),
    sg(
        "11.2",
        11,
        "Perform Automated Backups",
        "Back up important data automatically, at least weekly and more often for what changes daily. Steward checks that each device's last backup succeeded recently.",
    ),
    sg(
        "11.3",
        11,
        "Protect Recovery Data",
        "Encrypt backups and keep their keys and credentials apart from the devices they protect. Steward checks that its backups are encrypted and stored away from the device.",
    ),
    sg(
        "11.4",
        11,
        "Establish and Maintain an Isolated Instance of Recovery Data",
        "Keep one copy of the backups offline or off site, where ransomware on the office network cannot reach it. Steward asks a person to confirm where that copy is and records proven restores.",
    ),
    sg(
        "12.1",
        12,
        "Ensure Network Infrastructure is Up-to-Date",
        "Keep router, firewall and switch firmware current and replace devices their maker no longer supports. Steward asks a person to confirm it.",
    ),
    sg(
        "14.1",
        14,
        "Establish and Maintain a Security Awareness Program",
        "Give everyone short security training when they join and at least once a year. Steward asks a person to confirm when it last happened.",
    ),
    sg(
        "14.2",
        14,
        "Train Workforce Members to Recognize Social Engineering Attacks",
        "Teach staff to spot phishing, pretexting and urgent payment requests. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.3",
        14,
        "Train Workforce Members on Authentication Best Practices",
        "Teach staff to use a password manager and multi-factor authentication. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.4",
        14,
        "Train Workforce on Data Handling Best Practices",
        "Teach staff how to store, share and dispose of sensitive data. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.5",
        14,
        "Train Workforce Members on Causes of Unintentional Data Exposure",
        "Teach staff the usual accidents: the wrong recipient, a lost laptop, a public link. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.6",
        14,
        "Train Workforce Members on Recognizing and Reporting Security Incidents",
        "Teach staff what an incident looks like and whom to tell at once. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.7",
        14,
        "Train Workforce on How to Identify and Report if Their Enterprise Assets are Missing Security Updates",
        "Teach staff to notice a device that stopped updating and report it. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "14.8",
        14,
        "Train Workforce on the Dangers of Connecting to and Transmitting Enterprise Data Over Insecure Networks",
        "Teach staff the risks of public Wi-Fi and to use the VPN or a phone hotspot instead. Steward asks a person to confirm the training covers it.",
    ),
    sg(
        "15.1",
        15,
        "Establish and Maintain an Inventory of Service Providers",
        "List every provider that holds business data or manages its IT, with a contact for each. Steward asks a person to confirm the list is current.",
    ),
    sg(
        "17.1",
        17,
        "Designate Personnel to Manage Incident Handling",
        "Name one person, and a deputy, who takes charge when something goes wrong. Steward asks a person to confirm who they are.",
    ),
    sg(
        "17.2",
        17,
        "Establish and Maintain Contact Information for Reporting Security Incidents",
        "Keep the numbers of the IT provider, insurer, bank and the authorities where staff can find them offline. Steward asks a person to confirm the list is current.",
    ),
    sg(
        "17.3",
        17,
        "Establish and Maintain an Enterprise Process for Reporting Incidents",
        "Tell staff how and to whom they report a suspected incident, and how quickly. Steward asks a person to confirm the process.",
    ),
];

/// The 56 IG1 Safeguards, in CIS order.
pub fn cis_ig1() -> &'static [Safeguard] {
    IG1
}

/// An IG1 Safeguard by id (`"4.1"`).
pub fn safeguard(id: &str) -> Option<&'static Safeguard> {
    IG1.iter().find(|s| s.id == id)
}

/// The 15 Controls IG1 draws on, in CIS order.
pub fn cis_controls() -> &'static [Control] {
    CONTROLS
}

/// Whether `id` names a Safeguard of CIS Controls v8.1 at any Implementation Group
/// (`"4.8"` yes, `"4.13"` and `"4.01"` no).
pub fn is_cis_safeguard(id: &str) -> bool {
    let Some((control, number)) = id.split_once('.') else {
        return false;
    };
    let parse = |s: &str| -> Option<usize> {
        // No sign, no leading zero: "04.1" is not an id.
        if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (parse(control), parse(number)) {
        (Some(control), Some(number)) => SAFEGUARDS_PER_CONTROL
            .get(control - 1)
            .is_some_and(|&count| number <= usize::from(count)),
        _ => false,
    }
}
