//! Encryption at rest: the root and home filesystems and swap, judged from the device stack
//! under them (`lsblk`; for ZFS, the dataset's own encryption) rather than from
//! /etc/crypttab, which says what was meant, not what is mounted.

use super::blockdev::{self, AtRest, Device, Mount};
use super::{Verdict, fail, needed_command, needed_file, not_applicable, pass, unknown};
use crate::eval::Outcome;
use crate::host::Host;

/// The verdict for the filesystem mounted from `mount`.
fn judge(devices: &[Device], mount: &Mount) -> Verdict {
    let evidence = format!("{} on {} ({})", mount.source, mount.point, mount.fstype);
    match blockdev::at_rest(devices, &mount.source) {
        AtRest::Encrypted(chain) => pass(
            &chain,
            format!("{} is on a dm-crypt (LUKS) device", mount.point),
        ),
        AtRest::Plain(chain) => fail(
            &chain,
            format!("{} is on a disk with no dm-crypt layer", mount.point),
        ),
        AtRest::NotFound => Err(unknown(
            &evidence,
            format!(
                "{} is not a block device lsblk lists, so its encryption cannot be seen",
                mount.source
            ),
        )),
    }
}

fn mounted(host: &dyn Host, point: &str) -> Result<Option<Mount>, Outcome> {
    let mounts = blockdev::mounts(host)?;
    Ok(blockdev::mounted_at(&mounts, point).cloned())
}

/// A ZFS dataset is encrypted by ZFS itself (Ubuntu's encrypted ZFS install), not by a
/// device under it: `zfs get` says which cipher, or `off`.
fn zfs(host: &dyn Host, mount: &Mount) -> Verdict {
    let run = format!("zfs get -H -o value encryption {}", mount.source);
    let cipher = needed_command(host, &run)?.trim().to_owned();
    let evidence = format!("{} on {}: encryption {cipher}", mount.source, mount.point);
    match cipher.as_str() {
        "off" => fail(
            &evidence,
            format!("{} is a ZFS dataset without encryption", mount.point),
        ),
        "" | "-" => Err(unknown(
            &evidence,
            "zfs does not say how the dataset is encrypted",
        )),
        _ => pass(
            &evidence,
            format!("{} is a ZFS dataset encrypted with {cipher}", mount.point),
        ),
    }
}

/// The verdict for the filesystem at `mount`, whatever holds it.
fn judge_mount(host: &dyn Host, mount: &Mount) -> Verdict {
    if mount.fstype == "zfs" {
        return zfs(host, mount);
    }
    judge(&blockdev::devices(host)?, mount)
}

pub(crate) fn root(host: &dyn Host) -> Verdict {
    let mount = mounted(host, "/")?.ok_or_else(|| unknown("", "/proc/mounts lists no /"))?;
    judge_mount(host, &mount)
}

pub(crate) fn home(host: &dyn Host) -> Verdict {
    let Some(mount) = mounted(host, "/home")? else {
        return Err(not_applicable(
            "",
            "/home is not a filesystem of its own: it is on the root filesystem",
        ));
    };
    judge_mount(host, &mount)
}

pub(crate) fn swap(host: &dyn Host) -> Verdict {
    let text = needed_file(host, "/proc/swaps")?;
    // Filename Type Size Used Priority, after a header line.
    let swaps: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((blockdev::unescape(words.next()?), words.next()?.to_owned()))
        })
        .collect();
    if swaps.is_empty() {
        return Err(not_applicable("", "no swap is in use"));
    }
    let mut seen = Vec::new();
    let mut plain = Vec::new();
    let mut devices: Option<Vec<Device>> = None;
    for (name, kind) in &swaps {
        if blockdev::in_memory(name) {
            seen.push(format!("{name} (compressed memory)"));
            continue;
        }
        let device = if kind == "file" {
            let mounts = blockdev::mounts(host)?;
            let Some(holder) = blockdev::holding(&mounts, name) else {
                return Err(unknown(name, format!("no filesystem holds {name}")));
            };
            holder.source.clone()
        } else {
            name.clone()
        };
        if devices.is_none() {
            devices = Some(blockdev::devices(host)?);
        }
        match blockdev::at_rest(devices.as_deref().unwrap_or_default(), &device) {
            AtRest::Encrypted(chain) => seen.push(format!("{name}: {chain}")),
            AtRest::Plain(chain) => {
                seen.push(format!("{name}: {chain}"));
                plain.push(name.clone());
            }
            AtRest::NotFound => {
                return Err(unknown(
                    name,
                    format!("swap {name} is on {device}, which lsblk does not list"),
                ));
            }
        }
    }
    let evidence = seen.join("; ");
    if plain.is_empty() {
        pass(
            &evidence,
            "every swap area is encrypted or in compressed memory",
        )
    } else {
        fail(
            &evidence,
            format!("swap {} is written to disk unencrypted", plain.join(", ")),
        )
    }
}
