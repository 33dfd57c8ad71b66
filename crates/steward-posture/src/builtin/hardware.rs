//! Hardware: disk health (SMART), firmware age, and free space.

use super::clock::{self, days_between};
use super::{Verdict, command, fail, file, needed_command, not_applicable, pass, unknown};
use crate::host::Host;

/// Firmware older than this suggests hardware near the end of its life (6 years).
const MAX_FIRMWARE_DAYS: i64 = 6 * 365 + 1;
/// A filesystem this full (per cent) fails.
const FULL_PERCENT: u32 = 90;
/// `df` over real filesystems: memory, images, and container layers left out.
const DF: &str = "df -P -x tmpfs -x devtmpfs -x squashfs -x overlay -x efivarfs -x iso9660";
/// DMI vendor or product names of virtual machines, whose firmware date says nothing of
/// the hardware; asked only where `systemd-detect-virt` is missing.
const VIRTUAL: &[&str] = &[
    "DigitalOcean",
    "Hetzner",
    "Scaleway",
    "QEMU",
    "KVM",
    "VMware",
    "VirtualBox",
    "innotek",
    "Xen",
    "Bochs",
    "Amazon EC2",
    "Google",
    "Virtual Machine",
    "Parallels",
    "OpenStack",
];

pub(crate) fn disk_health(host: &dyn Host) -> Verdict {
    if command(host, "smartctl --version")?.is_none() {
        return Err(not_applicable(
            "",
            "smartctl (smartmontools) is not installed",
        ));
    }
    let listing = needed_command(host, "lsblk -dn -o NAME,TYPE")?;
    let disks: Vec<&str> = listing
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, kind) = (w.next()?, w.next()?);
            let memory = ["zram", "loop", "ram", "sr"]
                .iter()
                .any(|p| name.starts_with(p));
            (kind == "disk" && !memory).then_some(name)
        })
        .collect();
    let (mut healthy, mut failing, mut unreadable, mut silent) = (vec![], vec![], vec![], vec![]);
    for disk in &disks {
        let run = format!("smartctl -H /dev/{disk}");
        let Some(out) = command(host, &run)? else {
            continue;
        };
        let text = &out.stdout;
        // Exit status bit 1: the device could not be opened (no permission, most often).
        if text.contains("FAILED") || out.status & 8 != 0 {
            failing.push(format!("{disk}: {}", health_line(text)));
        } else if text.contains("PASSED") || text.contains("SMART Health Status: OK") {
            healthy.push(format!("{disk}: {}", health_line(text)));
        } else if out.status & 2 != 0 {
            unreadable.push(format!("{disk}: could not be opened"));
        } else {
            silent.push((*disk).to_owned());
        }
    }
    let evidence = healthy
        .iter()
        .chain(&failing)
        .chain(&unreadable)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if !failing.is_empty() {
        fail(&evidence, "a disk reports that it is failing: replace it")
    } else if !unreadable.is_empty() {
        Err(unknown(
            &evidence,
            "a disk's SMART status could not be read (it needs root)",
        ))
    } else if healthy.is_empty() {
        Err(not_applicable(
            &format!("no SMART report from: {}", silent.join(", ")),
            "no disk reports SMART health (a virtual machine's disks do not)",
        ))
    } else {
        pass(&evidence, "every disk reporting SMART says it is healthy")
    }
}

fn health_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.contains("overall-health") || l.contains("Health Status"))
        .map_or("health reported", str::trim)
}

pub(crate) fn bios_age(host: &dyn Host) -> Verdict {
    let dmi = "/sys/class/dmi/id";
    let vendor = file(host, &format!("{dmi}/sys_vendor"))?.unwrap_or_default();
    let product = file(host, &format!("{dmi}/product_name"))?.unwrap_or_default();
    let machine = format!("{} {}", vendor.trim(), product.trim());
    // systemd knows every hypervisor's signature (CPUID, DMI, device tree); it prints
    // "none" on hardware. Without it, the DMI names above.
    let virtual_machine = match command(host, "systemd-detect-virt --vm")? {
        Some(out) => Some(out.stdout.trim().to_owned()).filter(|kind| kind != "none"),
        None => VIRTUAL
            .iter()
            .find(|v| machine.contains(*v))
            .map(|v| (*v).to_owned()),
    };
    if let Some(kind) = virtual_machine {
        return Err(not_applicable(
            &format!("{machine} ({kind})"),
            "a virtual machine has no hardware of its own",
        ));
    }
    let Some(date) = file(host, &format!("{dmi}/bios_date"))? else {
        return Err(unknown(
            "",
            "the firmware reports no date (/sys/class/dmi/id/bios_date)",
        ));
    };
    let Some(at) = clock::mdy(&date) else {
        return Err(unknown(date.trim(), "the firmware date is not MM/DD/YYYY"));
    };
    let days = days_between(at, host.now());
    let evidence = format!("{machine}: firmware dated {}", date.trim());
    if days > MAX_FIRMWARE_DAYS {
        fail(
            &evidence,
            format!(
                "the firmware is {} years old: the hardware is likely older",
                days / 365
            ),
        )
    } else {
        pass(
            &evidence,
            format!("the firmware is {} years old", days / 365),
        )
    }
}

pub(crate) fn disk_not_nearly_full(host: &dyn Host) -> Verdict {
    // df exits non-zero when one filesystem cannot be read, yet reports the others.
    let Some(out) = command(host, DF)? else {
        return Err(unknown("", "df is not installed"));
    };
    let mut seen = Vec::new();
    let mut full = Vec::new();
    for line in out.stdout.lines().skip(1) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(capacity), Some(_)) = (words.get(4), words.get(5)) else {
            continue;
        };
        let Ok(percent) = capacity.trim_end_matches('%').parse::<u32>() else {
            continue;
        };
        let mount = words[5..].join(" ");
        seen.push(format!("{mount} {percent}%"));
        if percent >= FULL_PERCENT {
            full.push(format!("{mount} {percent}%"));
        }
    }
    if seen.is_empty() {
        return Err(not_applicable("", "df lists no disk filesystem"));
    }
    if full.is_empty() {
        pass(
            &seen.join(", "),
            format!("every filesystem is under {FULL_PERCENT}% full"),
        )
    } else {
        fail(
            &full.join(", "),
            format!("a filesystem is {FULL_PERCENT}% full or more"),
        )
    }
}
