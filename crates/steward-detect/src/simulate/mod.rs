//! The attack simulator (feature `simulate`): a generated tree of office documents, images,
//! PDFs, text and archives, and a harmless ransomware that "encrypts" it in the ways real
//! ones do. The drill runs it on a scratch folder of the agent's own; tests and the
//! benchmark run it under the sensor, or under [`Synthetic`], which turns each operation
//! into the event a sensor would report, so the detector is tested without privileges.
//!
//! Harmless by construction: it only touches the files [`tree::generate`] made (listed in
//! the tree's manifest), and its "encryption" is a keyed XOR stream, undone by running it
//! again with the same key.

pub mod attack;
pub mod benign;
#[cfg(unix)]
pub mod synthetic;
pub mod tree;

pub use attack::{Mode, Options, attack};
#[cfg(unix)]
pub use synthetic::Synthetic;
pub use tree::{Manifest, generate, lost_files};

/// A keystream of random-looking bytes from a 64-bit key (splitmix64): what the simulator
/// "encrypts" with. Not a cipher; its output measures like one (entropy 7.95+ per 4 KiB).
pub struct Keystream(u64);

impl Keystream {
    pub fn new(key: u64) -> Keystream {
        Keystream(key)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// XORs `buf` with the next bytes of the stream.
    pub fn apply(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let k = self.next_u64().to_le_bytes();
            for (b, k) in chunk.iter_mut().zip(k) {
                *b ^= k;
            }
        }
    }

    /// Fills `buf` with stream bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
        self.apply(buf);
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
