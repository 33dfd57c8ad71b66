//! Mounted filesystems and their size, from `/proc/mounts` and `statvfs(3)` through sysinfo's
//! `Disks`, keeping only filesystems that hold data: pseudo filesystems (proc, sysfs, tmpfs,
//! cgroup, …), snap squashfs images and container layers are dropped. An `overlay` mounted on
//! `/` is kept, since that is a container's root. Network filesystems (NFS, CIFS) are never
//! listed: sysinfo skips them because `statvfs` on a dead server can hang.
//!
//! The same list feeds the inventory (mount point, device, type, size) and the metrics (used
//! bytes), so both always agree on which filesystems exist.

use std::collections::HashMap;

use steward_core::{Filesystem, FilesystemUsage};
use sysinfo::{DiskRefreshKind, Disks};

/// One mounted filesystem as the collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
}

impl Mount {
    pub fn to_filesystem(&self) -> Filesystem {
        Filesystem {
            mount_point: self.mount_point.clone(),
            device: self.device.clone(),
            fs_type: self.fs_type.clone(),
            total_bytes: self.total_bytes,
        }
    }

    /// Used bytes as seen by an unprivileged user: space reserved for root counts as used, so
    /// a filesystem shows 100 % exactly when ordinary writes start to fail.
    pub fn to_usage(&self) -> FilesystemUsage {
        FilesystemUsage {
            mount_point: self.mount_point.clone(),
            total_bytes: self.total_bytes,
            used_bytes: self.total_bytes.saturating_sub(self.available_bytes),
        }
    }
}

/// Refreshes `disks` (mount list and sizes only, no I/O counters) and returns the real
/// filesystems, one per mount point (the last mount on a point is the visible one), sorted by
/// mount point.
pub fn collect(disks: &mut Disks) -> Vec<Mount> {
    disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
    let mounts = disks.iter().filter_map(|disk| {
        let mount_point = disk.mount_point().to_str()?;
        let fs_type = disk.file_system().to_str()?;
        if disk.total_space() == 0 || !is_data_filesystem(fs_type, mount_point) {
            return None;
        }
        Some(Mount {
            mount_point: mount_point.to_owned(),
            device: disk.name().to_string_lossy().into_owned(),
            fs_type: fs_type.to_owned(),
            total_bytes: disk.total_space(),
            available_bytes: disk.available_space(),
        })
    });
    dedup_by_mount_point(mounts)
}

/// Keeps the last mount seen for each mount point, sorted by mount point.
pub fn dedup_by_mount_point(mounts: impl IntoIterator<Item = Mount>) -> Vec<Mount> {
    let mut by_point: HashMap<String, Mount> = HashMap::new();
    for mount in mounts {
        by_point.insert(mount.mount_point.clone(), mount);
    }
    let mut out: Vec<Mount> = by_point.into_values().collect();
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out
}

/// Whether a mount holds data worth reporting, from its filesystem type and mount point.
pub fn is_data_filesystem(fs_type: &str, mount_point: &str) -> bool {
    const PSEUDO: &[&str] = &[
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "ramfs",
        "rootfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "iso9660",
        "fuse.lxcfs",
        "fuse.gvfsd-fuse",
        "fuse.portal",
        "fuse.snapfuse",
    ];
    if PSEUDO.contains(&fs_type) {
        return false;
    }
    // Container layers (Docker, Podman) are overlays; only a container's own root is real.
    if fs_type == "overlay" && mount_point != "/" {
        return false;
    }
    let under = |prefix: &str| {
        mount_point == prefix
            || mount_point
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    !(under("/proc")
        || under("/sys")
        || under("/dev")
        || under("/snap")
        || (under("/run") && !under("/run/media")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(point: &str, device: &str) -> Mount {
        Mount {
            mount_point: point.into(),
            device: device.into(),
            fs_type: "ext4".into(),
            total_bytes: 100,
            available_bytes: 40,
        }
    }

    #[test]
    fn pseudo_filesystems_are_skipped() {
        assert!(is_data_filesystem("ext4", "/"));
        assert!(is_data_filesystem("xfs", "/var/lib/postgresql"));
        assert!(is_data_filesystem("vfat", "/boot/efi"));
        assert!(is_data_filesystem("btrfs", "/run/media/alice/usb"));
        assert!(!is_data_filesystem("tmpfs", "/tmp"));
        assert!(!is_data_filesystem("proc", "/proc"));
        assert!(!is_data_filesystem("cgroup2", "/sys/fs/cgroup"));
        assert!(!is_data_filesystem("squashfs", "/snap/core22/1380"));
        assert!(!is_data_filesystem("ext4", "/snap/foo"));
        assert!(!is_data_filesystem("ext4", "/run/user/1000/doc"));
        assert!(!is_data_filesystem("ext4", "/dev/shm"));
        // `/devices` is not under `/dev`.
        assert!(is_data_filesystem("ext4", "/devices"));
    }

    #[test]
    fn overlay_is_kept_only_as_root() {
        assert!(is_data_filesystem("overlay", "/"));
        assert!(!is_data_filesystem(
            "overlay",
            "/var/lib/docker/overlay2/0123abcd/merged"
        ));
    }

    #[test]
    fn last_mount_on_a_point_wins_and_output_is_sorted() {
        let out = dedup_by_mount_point([
            mount("/srv", "/dev/sdb1"),
            mount("/", "/dev/sda1"),
            mount("/srv", "/dev/sdc1"),
        ]);
        assert_eq!(
            out,
            vec![mount("/", "/dev/sda1"), mount("/srv", "/dev/sdc1")]
        );
    }

    #[test]
    fn usage_counts_reserved_space_as_used() {
        let usage = mount("/", "/dev/sda1").to_usage();
        assert_eq!(usage.used_bytes, 60);
        assert_eq!(usage.total_bytes, 100);
    }
}
