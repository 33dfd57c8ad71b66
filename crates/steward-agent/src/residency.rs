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
//! agent), so nothing shared is evicted from under anyone; and it pages out a file's pages
//! only for a caller that owns the file or may write it (root, as the agent runs; for an
//! agent run as another user, only the heap trim has an effect). The runner calls it after a
//! check-in that followed a burst (the inventory every 15 minutes, posture, updates, a
//! job), and only in `steward agent run`, where the agent has the process to itself.
//!
//! **With ransomware detection on, the engine's response is rehearsed right after.** Its
//! verdict and stop path is touched only during an attack; paged out with the rest, it
//! would be read back from disk during one, on the engine's thread, while the attack runs
//! on (measured: at full speed the stop came after a median of 22–96 files instead of 3–4).
//! [`crate::detection::rehearsal`] runs that path once on a made-up attack, on the same
//! blocking thread ([`release_off_the_workers`]'s `after`), which faults it back in.
//!
//! Hand-written over `libc`: `madvise` is an FFI call with no safe wrapper in any crate
//! (rustix's and nix's are `unsafe` too, since other advice values can discard data).

#![allow(unsafe_code)]

use std::io;

/// The process's resident size around one [`release_idle_memory`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Bytes of mappings the kernel took the advice for.
    pub advised_bytes: u64,
    /// Mappings it refused the advice for (an old kernel refuses all; a mapping gone since
    /// the list was read, or one of a kind it cannot page out, is refused alone).
    pub refused: u32,
    /// Resident set before and after, in KiB (0 where `/proc` could not be read).
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
}

/// Pages out this process's read-only file mappings and trims the heap. Takes a few
/// milliseconds (the kernel walks the mappings); call it off the async workers.
pub fn release_idle_memory() -> io::Result<Released> {
    let rss_before_kib = resident_kib().unwrap_or(0);
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let (mut advised_bytes, mut refused) = (0, 0);
    for range in maps.lines().filter_map(read_only_file_mapping) {
        // A refusal changes nothing: a mapping gone since the list was read (a library
        // glibc unloaded) fails with ENOMEM, an old kernel with EINVAL. Each range is
        // advised on its own, and the heap is trimmed whatever the kernel said.
        let len = (range.end - range.start) as u64;
        match page_out(range) {
            Ok(()) => advised_bytes += len,
            Err(_) => refused += 1,
        }
    }
    trim_heap();
    Ok(Released {
        advised_bytes,
        refused,
        rss_before_kib,
        rss_after_kib: resident_kib().unwrap_or(0),
    })
}

/// [`release_idle_memory`] on a blocking thread, then `after` on the same thread (the
/// detection engine's rehearsal, which brings back the code an attack needs at once), with
/// what was done logged: for the runner.
pub async fn release_off_the_workers(after: impl FnOnce() + Send + 'static) {
    let release = move || {
        let released = release_idle_memory();
        after();
        released
    };
    match tokio::task::spawn_blocking(release).await {
        Ok(Ok(r)) => tracing::debug!(
            advised_mib = r.advised_bytes >> 20,
            refused = r.refused,
            rss_before_kib = r.rss_before_kib,
            rss_after_kib = r.rss_after_kib,
            "handed idle memory back to the kernel"
        ),
        Ok(Err(e)) => tracing::debug!(error = %e, "could not hand idle memory back to the kernel"),
        Err(e) => tracing::warn!(error = %e, "releasing idle memory panicked"),
    }
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
    // SAFETY: `MADV_PAGEOUT` never changes what memory holds, for any range: a paged-out
    // page of a file mapping is read back from the file on its next touch, a private page
    // that was written (a relocated read-only section) goes to swap or stays, and a range
    // with nothing mapped is refused (ENOMEM). No Rust reference is invalidated.
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
