//! What a policy backs up when a person does not say: the default excludes, and the named
//! presets a policy can start from (`linux-server`, `workstation`). Plain data; the policies
//! service applies it.

use steward_core::backup::retention::Keep;

/// When a policy runs unless it says: every night at 01:00 UTC.
pub const DEFAULT_SCHEDULE: &str = "daily 01:00";

/// What a policy keeps unless it says: a week of dailies, a month of weeklies, a year of
/// monthlies.
pub const DEFAULT_KEEP: Keep = Keep {
    last: 0,
    hourly: 0,
    daily: 7,
    weekly: 4,
    monthly: 12,
    yearly: 0,
};

/// Days within which no snapshot is forgotten, unless a policy says otherwise.
pub const DEFAULT_PROTECTION_DAYS: u32 = 30;

/// Left out of every policy that does not list its own excludes: kernel and runtime
/// filesystems (which are not files on a disk, and some of which never end when read),
/// scratch space, and caches that rebuild themselves.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/tmp",
    "/var/cache",
    "/home/*/.cache",
    "/root/.cache",
    "*.tmp",
    "lost+found",
];

/// A named starting point: paths, and excludes added to the defaults.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub paths: &'static [&'static str],
    /// Left out besides [`DEFAULT_EXCLUDES`].
    pub excludes: &'static [&'static str],
}

impl Preset {
    /// The preset's excludes with the defaults, defaults first.
    pub fn all_excludes(&self) -> Vec<String> {
        DEFAULT_EXCLUDES
            .iter()
            .chain(self.excludes)
            .map(|s| (*s).to_owned())
            .collect()
    }
}

/// The presets, by name.
///
/// `linux-server` takes what a server's own configuration and data are: `/etc`, `/srv`,
/// `/home`, `/root`, `/usr/local` (software and scripts installed by hand), `/var/lib`
/// (services' state: databases, mail, certificates) and `/var/spool/cron` (crontabs). From
/// `/var/lib` it leaves out what is large and is rebuilt or pulled again rather than
/// restored — container images and layers, package lists, snaps, flatpaks — and virtual
/// machine disk images, which change while their machines run and need their own backup;
/// and Steward's own directory, which on the server holds the backup repositories
/// themselves. A database's files are copied as they are on disk: for a consistent copy,
/// back up its dumps as well.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "linux-server",
        description: "A Linux server's configuration and data: /etc, /srv, /home, /root, \
                      /usr/local, /var/lib (without container images, package lists and VM \
                      disks) and crontabs",
        paths: &[
            "/etc",
            "/srv",
            "/home",
            "/root",
            "/usr/local",
            "/var/lib",
            "/var/spool/cron",
        ],
        excludes: &[
            "/var/lib/docker",
            "/var/lib/containerd",
            "/var/lib/containers",
            "/var/lib/kubelet",
            "/var/lib/lxcfs",
            "/var/lib/snapd",
            "/var/lib/flatpak",
            "/var/lib/apt/lists",
            "/var/lib/dnf",
            "/var/lib/libvirt/images",
            "/var/lib/systemd/coredump",
            "/var/lib/steward",
        ],
    },
    Preset {
        name: "workstation",
        description: "People's files and the machine's configuration: /home and /etc",
        paths: &["/home", "/etc"],
        excludes: &[
            "/home/*/.local/share/Trash",
            "/home/*/.mozilla/firefox/*/cache2",
            "/home/*/.var/app/*/cache",
        ],
    },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// The names of the presets, for messages.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}
