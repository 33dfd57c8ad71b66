//! Restore drills: which files a drill restores, and what its measured speed says about
//! restoring everything. Pure; the server picks the seed (the time) and does the IO.

/// At most this many files are restored by a drill.
pub const SAMPLE_FILES: usize = 20;
/// At most this many bytes (a few large files would otherwise make the drill an
/// afternoon's work): 256 MiB.
pub const SAMPLE_BYTES: u64 = 256 << 20;

/// A random sample of `files` (path, size): up to `max_files` files, together at most
/// `max_bytes` (files larger than what is left are passed over). The same seed gives the
/// same sample, so a test can name it.
pub fn sample(files: &[(String, u64)], max_files: usize, max_bytes: u64, seed: u64) -> Vec<String> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    // Fisher–Yates with xorshift64*: no dependency for a shuffle that needs no strength.
    let mut state = seed | 1;
    let mut next = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in (1..order.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut left = max_bytes;
    let mut chosen = Vec::new();
    for i in order {
        let (path, size) = &files[i];
        if chosen.len() == max_files {
            break;
        }
        if *size <= left {
            left -= size;
            chosen.push(path.clone());
        }
    }
    chosen
}

/// How long restoring `total_bytes` would take at the speed a drill measured (`bytes` in
/// `duration_ms`), or `None` when the drill restored too little to say (under 1 MiB or
/// 100 ms: start-up costs would dominate).
pub fn recovery_estimate_ms(total_bytes: u64, bytes: u64, duration_ms: u64) -> Option<u64> {
    if bytes < (1 << 20) || duration_ms < 100 {
        return None;
    }
    let per_byte = duration_ms as f64 / bytes as f64;
    Some((total_bytes as f64 * per_byte).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize, size: u64) -> Vec<(String, u64)> {
        (0..n).map(|i| (format!("f{i}"), size)).collect()
    }

    #[test]
    fn a_sample_is_bounded_random_and_repeatable() {
        let all = files(100, 10);
        let a = sample(&all, 20, u64::MAX, 7);
        assert_eq!(a.len(), 20);
        assert_eq!(
            a,
            sample(&all, 20, u64::MAX, 7),
            "the same seed, the same sample"
        );
        assert_ne!(a, sample(&all, 20, u64::MAX, 8));
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 20, "no file twice");
        assert_eq!(sample(&all, 20, 35, 7).len(), 3, "the byte budget holds");
        let mixed = vec![("huge".to_string(), 1000), ("small".to_string(), 1)];
        assert_eq!(
            sample(&mixed, 5, 10, 3),
            vec!["small".to_string()],
            "a file too large is passed over"
        );
        assert!(sample(&[], 5, 10, 3).is_empty());
    }

    #[test]
    fn the_estimate_scales_the_measured_speed() {
        assert_eq!(
            recovery_estimate_ms(100 << 20, 10 << 20, 1000),
            Some(10_000)
        );
        assert_eq!(
            recovery_estimate_ms(100 << 20, 1000, 1000),
            None,
            "too little restored to say"
        );
    }
}
