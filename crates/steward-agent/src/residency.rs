//! Handing back the memory a burst of work left behind, so the resident agent stays small.
//!
//! The agent is the same binary as the server, console, CLI and backup engine: its code is
//! about 36 MB. Start-up, a full inventory, a posture evaluation or an in-process job fault
//! in code pages (the kernel maps them in 64 KiB windows around each touch) that the
//! steady loop never touches again. Those pages are clean copies of the binary on disk:
//! dropping them loses nothing, and a page needed again is read back on its next touch.
//! But the kernel drops them only under memory pressure, so on a quiet machine they stay
//! in the agent's resident set. Measured on a release build: 13.9 MiB of a 16.4 MiB agent
//! was file-backed, and only about 4 MiB of it was touched in a minute of steady running.
//!
//! [`release_idle_memory`] asks the kernel to page out the process's read-only file
//! mappings (`madvise(MADV_PAGEOUT)`, Linux 5.4 and later; an older kernel refuses and
//! nothing changes) and glibc's allocator to return freed heap (`malloc_trim`). The kernel
//! skips pages another process maps too (libc, or the binary when a server runs beside the
//! agent), so nothing shared is evicted from under anyone. The runner calls it after a
//! check-in that followed a burst (the inventory every 15 minutes, posture, updates, a
//! job), and only in `steward agent run`, where the agent has the process to itself.
//!
//! Hand-written over `libc`: `madvise` is an FFI call with no safe wrapper in any crate
//! (rustix's and nix's are `unsafe` too, since other advice values can discard data).

#![allow(unsafe_code)]

use std::io;

/// The process's resident size around one [`release_idle_memory`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Bytes of mappings the kernel was asked to page out.
    pub advised_bytes: u64,
    /// Resident set before and after, in KiB (0 where `/proc` could not be read).
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
}

/// Pages out this process's read-only file mappings and trims the heap. Takes a few
/// milliseconds (the kernel walks the mappings); call it off the async workers.
pub fn release_idle_memory() -> io::Result<Released> {
    let rss_before_kib = resident_kib().unwrap_or(0);
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut advised_bytes = 0;
    for range in maps.lines().filter_map(read_only_file_mapping) {
        // A mapping that went away since the list was read (none does: the agent maps no
        // files at run time) fails with ENOMEM; an old kernel fails with EINVAL. Either
        // way nothing was changed, so the error only ends the attempt.
        advised_bytes += (range.end - range.start) as u64;
        page_out(range)?;
    }
    trim_heap();
    Ok(Released {
        advised_bytes,
        rss_before_kib,
        rss_after_kib: resident_kib().unwrap_or(0),
    })
}

/// The address range of a `/proc/self/maps` line that maps a file without write access:
/// the binary's code and read-only data, and the shared libraries'. Anonymous memory,
/// writable mappings and the kernel's own (`[vdso]`, `[stack]`) are left alone.
fn read_only_file_mapping(line: &str) -> Option<std::ops::Range<usize>> {
    let mut fields = line.split_ascii_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?.as_bytes();
    let path = fields.nth(3)?;
    if perms.get(1) != Some(&b'-') || !path.starts_with('/') {
        return None;
    }
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (start < end).then_some(start..end)
}

fn page_out(range: std::ops::Range<usize>) -> io::Result<()> {
    // SAFETY: `MADV_PAGEOUT` is advice that never changes what the memory holds: a paged-out
    // page of a file mapping is read back from the file on its next touch, and a private
    // page that was written (a relocated read-only section) goes to swap or stays. The
    // range is one the kernel listed as mapped in this process, page-aligned by the kernel.
    let rc = unsafe {
        libc::madvise(
            range.start as *mut libc::c_void,
            range.end - range.start,
            libc::MADV_PAGEOUT,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(target_env = "gnu")]
fn trim_heap() {
    // SAFETY: `malloc_trim` only returns free memory at the top and in the middle of glibc's
    // arenas to the kernel; it takes the arenas' locks like any allocation does.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn trim_heap() {}

/// The resident set of this process in KiB (`VmRSS` in `/proc/self/status`).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_file_mappings_are_chosen() {
        let code = "5581f4a00000-5581f6e41000 r-xp 00a00000 fd:01 1234 /usr/bin/steward";
        assert_eq!(
            read_only_file_mapping(code),
            Some(0x5581_f4a0_0000..0x5581_f6e4_1000)
        );
        let data = "7f3c1c000000-7f3c1c021000 r--p 00000000 fd:01 99 /usr/lib/libc.so.6";
        assert!(read_only_file_mapping(data).is_some());
        for skipped in [
            // written data of the binary, the heap, anonymous memory, the kernel's pages
            "5581f6e41000-5581f6e50000 rw-p 03041000 fd:01 1234 /usr/bin/steward",
            "5581f8000000-5581f8100000 rw-p 00000000 00:00 0 [heap]",
            "7f3c1c100000-7f3c1c200000 rw-p 00000000 00:00 0",
            "7ffd5b7f2000-7ffd5b7f6000 r--p 00000000 00:00 0 [vvar]",
            "7ffd5b7f6000-7ffd5b7f8000 r-xp 00000000 00:00 0 [vdso]",
            "garbage",
            "ffff-0000 r--p 00000000 fd:01 1 /backwards",
        ] {
            assert_eq!(read_only_file_mapping(skipped), None, "{skipped}");
        }
    }
}
