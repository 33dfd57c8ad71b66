//! The agent hands the kernel back the code pages a burst of work left resident.
//!
//! Alone in its test binary on purpose: nextest runs each test in a process of its own,
//! and the kernel keeps a page that another process maps too, so a second test here could
//! hold the binary's pages while this one measures.

#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

use std::fs::File;

/// Resident KiB of this process's mappings of its own executable that are the file's pages
/// (`/proc/self/smaps`).
fn executable_rss_kib() -> u64 {
    let exe = std::fs::read_link("/proc/self/exe").expect("own executable");
    let exe = exe.to_str().expect("utf-8 path");
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let mut in_exe = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields
            .first()
            .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
        {
            // A mapping's header: "start-end perms offset dev inode [path]".
            in_exe = fields.get(5).is_some_and(|p| *p == exe);
        } else if in_exe && fields.first() == Some(&"Rss:") {
            kib += fields[1].parse::<u64>().expect("Rss in kB");
        } else if in_exe && fields.first() == Some(&"Anonymous:") {
            // Written pages of a read-only section (relocations): not the file's.
            kib -= fields[1].parse::<u64>().expect("Anonymous in kB");
        }
    }
    kib
}

#[test]
fn the_code_a_burst_left_resident_is_handed_back() {
    // The linker wrote this binary moments ago: its pages may still be dirty in the page
    // cache, and the kernel pages out only clean ones. Written out, they are as they are on
    // a device, where the binary was installed long before.
    File::open("/proc/self/exe")
        .and_then(|f| f.sync_all())
        .expect("sync own executable");
    // The burst: a full inventory, as the agent collects at start and every 15 minutes.
    let mut collector = steward_agent::collect::platform_collector();
    collector.inventory().expect("inventory");
    let before = executable_rss_kib();
    let released = steward_agent::residency::release_idle_memory().expect("release");
    let after = executable_rss_kib();
    eprintln!("executable resident: {before} KiB before, {after} KiB after; {released:?}");
    assert!(
        released.advised_bytes > 0,
        "no read-only file mapping was advised: {released:?}"
    );
    // Reading smaps afterwards faults its own code back in (about half of `before` in a
    // debug build: the kernel reads code in windows); without the release nothing goes.
    assert!(
        after * 4 < before * 3,
        "the executable's resident pages went from {before} KiB only to {after} KiB"
    );
    assert!(
        released.rss_after_kib < released.rss_before_kib,
        "{released:?}"
    );
}
