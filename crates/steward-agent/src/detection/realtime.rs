//! Real-time scheduling for the detection engine's thread.
//!
//! At a nice value the kernel still lets a process that writes as fast as the machine
//! allows run on for milliseconds after its write woke the engine, whenever anything else
//! runs too (two cores, measured): at 10,000 files a second that was dozens of files before
//! the stop (p95 55–68 in the live bench). At the lowest real-time priority, `SCHED_FIFO`
//! at 1, the engine runs the moment an event arrives (p95 9–13), and costs no more CPU:
//! it still sleeps between reads, and its work per event is the same.
//!
//! `SCHED_RESET_ON_FORK`: the threads and processes the engine starts (the executable's
//! hashing thread, `nft` for an isolation) run at the normal policy, not real-time. By
//! default the kernel keeps 5 % of each second of every CPU from real-time threads for
//! everything else (`sched_rt_runtime_us`); the engine's loop always blocks (poll, the
//! gathering sleep), so the budget is a backstop, not what keeps the machine responsive. Root only (`CAP_SYS_NICE`); where it is refused (not root, or a control group
//! with no real-time budget), the engine keeps its nice value.
//!
//! Hand-written over `libc`: `sched_setscheduler` with the reset-on-fork flag has no safe
//! wrapper in a maintained crate (`thread-priority` takes the policy as an enum without the
//! flag, and a real-time hashing thread must not be inherited).

#![allow(unsafe_code)]

use std::io;

/// Makes the calling thread real-time at the lowest priority, its children not.
pub fn enter() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: the kernel reads `param` during the call only; pid 0 is the calling thread.
    let rc = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduling policy of the calling thread, from `/proc/thread-self/stat`.
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        // Field 41 of stat; `rest` starts at field 3 (the state).
        rest.split_whitespace().nth(38).unwrap().parse().unwrap()
    }

    #[test]
    fn the_engine_runs_real_time_and_what_it_starts_does_not() {
        std::thread::spawn(|| {
            let before = policy();
            match enter() {
                Ok(()) => {
                    assert_eq!(policy(), libc::SCHED_FIFO as u32);
                    let child = std::thread::spawn(policy).join().unwrap();
                    assert_eq!(child, libc::SCHED_OTHER as u32, "a started thread is not");
                }
                // Not root: refused cleanly, nothing changed.
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
                    assert_eq!(policy(), before);
                }
            }
        })
        .join()
        .unwrap();
    }
}
