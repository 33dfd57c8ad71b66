//! After the agent pages out its idle code, the detection engine's rehearsal brings its
//! verdict and stop path back into memory, so an attack does not wait on the disk.
//!
//! Alone in its test binary on purpose (as `residency.rs`): the kernel keeps a page that
//! another process maps too, and nextest runs each test in a process of its own.

#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

use std::fs::File;
use std::os::unix::fs::FileExt;

use steward_agent::detection::sensor::procs::Processes;
use steward_agent::detection::{DetectionFeed, device, record, respond, sensor};
use steward_detect::{Detector, Event};

/// Whether this process has the page holding `address` mapped (`/proc/self/pagemap`: one
/// 64-bit entry a page, bit 63 "present"; readable without privileges).
fn mapped(pagemap: &File, code: *const ()) -> bool {
    let (address, page) = (code as usize, rustix::param::page_size());
    let mut entry = [0u8; 8];
    pagemap
        .read_exact_at(&mut entry, (address / page * 8) as u64)
        .expect("pagemap entry");
    u64::from_ne_bytes(entry) >> 63 == 1
}

#[test]
fn the_rehearsal_brings_back_the_response_path_the_release_paged_out() {
    // Written out, the freshly linked binary's pages are clean, as on a device.
    File::open("/proc/self/exe")
        .and_then(|f| f.sync_all())
        .expect("sync own executable");
    let state = tempfile::tempdir().expect("state dir");
    let feed = DetectionFeed::open(state.path());
    // The code an attack runs, from the sensor's event to the record.
    let path: [(&str, *const ()); 6] = [
        ("Processes::announce", Processes::announce as *const ()),
        ("sensor::sample_file", sensor::sample_file as *const ()),
        (
            "Detector::feed",
            Detector::feed as fn(&mut Detector, &Event) -> _ as *const (),
        ),
        ("device::stop_all", device::stop_all as *const ()),
        ("respond::freeze", respond::freeze as *const ()),
        ("record::detected", record::detected as *const ()),
    ];
    // A first rehearsal, as if the path had run before (it has not in this process).
    steward_agent::detection::rehearsal::rehearse(&feed);
    let pagemap = File::open("/proc/self/pagemap").expect("pagemap");

    steward_agent::residency::release_idle_memory(true).expect("release");
    let paged_out: Vec<&str> = path
        .iter()
        .filter(|(_, at)| !mapped(&pagemap, *at))
        .map(|(name, _)| *name)
        .collect();
    // The control: without the rehearsal, the release takes (some of) the path with the
    // rest. Not all of it: the release's own code runs on after the advice, and each of its
    // page faults maps the code around it again (64 KiB windows), some of this path too.
    assert!(
        !paged_out.is_empty(),
        "the release left the whole response path mapped, so this test shows nothing"
    );

    let rehearsed = steward_agent::detection::rehearsal::rehearse(&feed);
    assert!(rehearsed.verdict, "{rehearsed:?}");
    let still_out: Vec<&str> = path
        .iter()
        .filter(|(_, at)| !mapped(&pagemap, *at))
        .map(|(name, _)| *name)
        .collect();
    assert!(
        still_out.is_empty(),
        "after the rehearsal, still paged out: {still_out:?}"
    );
}
