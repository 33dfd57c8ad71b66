//! Block devices and mounts: `lsblk` pairs and `/proc/mounts`, shared by the encryption and
//! disk checks.

use super::{needed_command, needed_file};
use crate::eval::Outcome;
use crate::host::Host;

/// The `lsblk` call: every device with its kernel name and parent's, full paths, as
/// `KEY="value"` pairs (stable across util-linux versions, unlike the columns).
pub(crate) const LSBLK: &str = "lsblk -P -p -o NAME,KNAME,TYPE,FSTYPE,PKNAME";

/// One line of `lsblk -P`. A device with several parents (a logical volume over two
/// physical ones) appears once per parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    pub name: String,
    pub kname: String,
    pub kind: String,
    pub fstype: String,
    pub parent: String,
}

/// `KEY="value"` pairs; `\xHH` escapes decoded.
fn pairs(line: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = line.trim();
    while let Some((key, after)) = rest.split_once("=\"") {
        let Some(end) = after.find('"') else { break };
        found.push((key.trim().to_owned(), unescape(&after[..end])));
        rest = &after[end + 1..];
    }
    found
}

/// Undoes the `\xHH` (lsblk) and `\OOO` (/proc/mounts) escapes of spaces and the like.
pub(crate) fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1) == Some(&b'x')
            && bytes.len() >= i + 4
            && std::str::from_utf8(&bytes[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .is_some();
        let octal = bytes.len() >= i + 4
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b));
        if bytes[i] == b'\\' && hex {
            let h = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap_or("3f");
            out.push(u8::from_str_radix(h, 16).unwrap_or(b'?'));
            i += 4;
        } else if bytes[i] == b'\\' && octal {
            let o = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("077");
            out.push(u8::from_str_radix(o, 8).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_lsblk(text: &str) -> Vec<Device> {
    text.lines()
        .map(pairs)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let get = |key: &str| {
                p.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            Device {
                name: get("NAME"),
                kname: get("KNAME"),
                kind: get("TYPE"),
                fstype: get("FSTYPE"),
                parent: get("PKNAME"),
            }
        })
        .collect()
}

pub(crate) fn devices(host: &dyn Host) -> Result<Vec<Device>, Outcome> {
    Ok(parse_lsblk(&needed_command(host, LSBLK)?))
}

/// A mounted filesystem: its source (`/dev/mapper/root`), mount point and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub source: String,
    pub point: String,
    pub fstype: String,
}

pub(crate) fn mounts(host: &dyn Host) -> Result<Vec<Mount>, Outcome> {
    let text = needed_file(host, "/proc/mounts")?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(Mount {
                source: unescape(words.next()?),
                point: unescape(words.next()?),
                fstype: words.next()?.to_owned(),
            })
        })
        .collect())
}

/// The mount `point`'s filesystem: the last one mounted there wins, as the kernel shows it.
pub(crate) fn mounted_at<'a>(mounts: &'a [Mount], point: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.point == point)
}

/// The filesystem holding `path`: the longest mount point that contains it, the last
/// mounted of equals (`max_by_key` keeps the last maximum).
pub(crate) fn holding<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| {
            m.point == "/"
                || path == m.point
                || path.starts_with(&format!("{}/", m.point.trim_end_matches('/')))
        })
        .max_by_key(|m| m.point.len())
}

/// How a device is protected at rest, as the device stack under it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AtRest {
    /// Every path down to the disk passes through a dm-crypt device; the chain seen.
    Encrypted(String),
    /// Some path reaches a disk without one; the chain seen.
    Plain(String),
    /// The device is not in `lsblk`'s list.
    NotFound,
}

/// Walks from `device` (a path as /proc/mounts or /proc/swaps names it) down to the disks.
pub(crate) fn at_rest(devices: &[Device], device: &str) -> AtRest {
    let Some(start) = devices
        .iter()
        .find(|d| same_device(&d.name, device) || same_device(&d.kname, device))
    else {
        return AtRest::NotFound;
    };
    let mut chain = Vec::new();
    if walk(devices, &start.kname, &mut chain, 0) {
        AtRest::Encrypted(chain.join(" on "))
    } else {
        AtRest::Plain(chain.join(" on "))
    }
}

/// The same device, whether named by path (`/dev/mapper/root`, as /proc/mounts and
/// `lsblk -p` write it) or by bare name (`root`, as some lsblk versions write PKNAME).
fn same_device(a: &str, b: &str) -> bool {
    let bare = |d: &'_ str| -> String {
        d.strip_prefix("/dev/mapper/")
            .or_else(|| d.strip_prefix("/dev/"))
            .unwrap_or(d)
            .to_owned()
    };
    a == b || bare(a) == bare(b)
}

/// True when every path from `kname` down passes a `crypt` device. Depth-capped: lsblk's
/// output is a tree, but a malformed one must not loop.
fn walk(devices: &[Device], kname: &str, chain: &mut Vec<String>, depth: usize) -> bool {
    let rows: Vec<&Device> = devices
        .iter()
        .filter(|d| same_device(&d.kname, kname))
        .collect();
    let Some(first) = rows.first() else {
        return false;
    };
    chain.push(format!("{} ({})", first.name, first.kind));
    if first.kind == "crypt" {
        return true;
    }
    let parents: Vec<&str> = rows
        .iter()
        .map(|d| d.parent.as_str())
        .filter(|p| !p.is_empty())
        .collect();
    if parents.is_empty() || depth > 16 {
        return false;
    }
    parents
        .iter()
        .all(|parent| walk(devices, parent, chain, depth + 1))
}

/// Devices that are memory, not disk: a swap there never reaches storage.
pub(crate) fn in_memory(device: &str) -> bool {
    let name = device.rsplit('/').next().unwrap_or(device);
    name.starts_with("zram") || name.starts_with("ram")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LVM_ON_LUKS: &str = r#"NAME="/dev/nvme0n1" KNAME="/dev/nvme0n1" TYPE="disk" FSTYPE="" PKNAME=""
NAME="/dev/nvme0n1p3" KNAME="/dev/nvme0n1p3" TYPE="part" FSTYPE="crypto_LUKS" PKNAME="/dev/nvme0n1"
NAME="/dev/mapper/nvme0n1p3_crypt" KNAME="/dev/dm-0" TYPE="crypt" FSTYPE="LVM2_member" PKNAME="/dev/nvme0n1p3"
NAME="/dev/mapper/vg-root" KNAME="/dev/dm-1" TYPE="lvm" FSTYPE="ext4" PKNAME="/dev/dm-0"
NAME="/dev/sda1" KNAME="/dev/sda1" TYPE="part" FSTYPE="ext4" PKNAME="/dev/sda"
NAME="/dev/sda" KNAME="/dev/sda" TYPE="disk" FSTYPE="" PKNAME=""
"#;

    #[test]
    fn walks_down_to_the_disk() {
        let devices = parse_lsblk(LVM_ON_LUKS);
        assert!(matches!(
            at_rest(&devices, "/dev/mapper/vg-root"),
            AtRest::Encrypted(chain) if chain.contains("nvme0n1p3_crypt (crypt)")
        ));
        assert!(matches!(
            at_rest(&devices, "/dev/dm-1"),
            AtRest::Encrypted(_)
        ));
        assert!(matches!(at_rest(&devices, "/dev/sda1"), AtRest::Plain(_)));
        assert_eq!(at_rest(&devices, "/dev/vdb"), AtRest::NotFound);
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
        let mount = |source: &str, point: &str| Mount {
            source: source.into(),
            point: point.into(),
            fstype: "ext4".into(),
        };
        let mounts = [
            mount("rootfs", "/"),
            mount("/dev/sda2", "/"),
            mount("/dev/sdb1", "/srv"),
        ];
        assert_eq!(holding(&mounts, "/swapfile").unwrap().source, "/dev/sda2");
        assert_eq!(holding(&mounts, "/srv/swap").unwrap().source, "/dev/sdb1");
        assert_eq!(holding(&mounts, "/srvx/swap").unwrap().source, "/dev/sda2");
        assert_eq!(unescape(r"a\x20b"), "a b");
    }
}
