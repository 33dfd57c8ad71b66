//! The audit log's integrity: each entry's hash covers the previous entry's hash, so editing,
//! removing or reordering a stored entry breaks the chain from there on, and
//! `steward admin audit verify` says where.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::time::Timestamp;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, by whom, to what. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditFacts {
    pub at: Timestamp,
    /// `user:NAME`, `api-token:NAME`, `cli`, `agent:DEVICE`, or the attempted name.
    pub actor: String,
    /// e.g. `sign_in`, `sign_in_failed`, `sign_in_throttled`, `job_queued`, `device_revoked`,
    /// `authorisation_denied`, `api_token_created`.
    pub action: String,
    /// What it was done to (a device id, a username, a route).
    pub target: String,
    /// Free text or JSON: before/after values where they make sense.
    pub detail: String,
    /// Where from: an IP address, or `cli`.
    pub source: String,
}

/// The hash of entry `seq` with these facts, following `prev_hash`.
pub fn entry_hash(prev_hash: &str, seq: i64, facts: &AuditFacts) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        prev: &'a str,
        seq: i64,
        facts: &'a AuditFacts,
    }
    let bytes = serde_json::to_vec(&Canonical {
        prev: prev_hash,
        seq,
        facts,
    })
    .unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "entry {seq}: expected sequence number {expected} (an entry is missing or out of order)"
    )]
    Gap { seq: i64, expected: i64 },
    #[error(
        "entry {seq}: does not follow the previous entry's hash (an entry before it was changed or removed)"
    )]
    Link { seq: i64 },
    #[error("entry {seq}: its contents do not match its hash (the entry was changed)")]
    Content { seq: i64 },
}

/// Walks stored entries `(seq, prev_hash, hash, facts)` in order and checks every link.
pub struct ChainVerifier {
    expected_seq: i64,
    last_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            last_hash: GENESIS.to_string(),
        }
    }
}

impl ChainVerifier {
    pub fn check(
        &mut self,
        seq: i64,
        prev_hash: &str,
        hash: &str,
        facts: &AuditFacts,
    ) -> Result<(), ChainBreak> {
        if seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq,
                expected: self.expected_seq,
            });
        }
        if prev_hash != self.last_hash {
            return Err(ChainBreak::Link { seq });
        }
        if entry_hash(prev_hash, seq, facts) != hash {
            return Err(ChainBreak::Content { seq });
        }
        self.expected_seq += 1;
        self.last_hash = hash.to_string();
        Ok(())
    }

    /// Entries checked so far.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(n: i64) -> AuditFacts {
        AuditFacts {
            at: Timestamp(n),
            actor: "user:john".into(),
            action: "sign_in".into(),
            target: "john".into(),
            detail: String::new(),
            source: "192.0.2.1".into(),
        }
    }

    #[test]
    fn a_chain_verifies_and_edits_are_found() {
        let mut entries = Vec::new();
        let mut prev = GENESIS.to_string();
        for seq in 1..=3 {
            let h = entry_hash(&prev, seq, &facts(seq));
            entries.push((seq, prev.clone(), h.clone(), facts(seq)));
            prev = h;
        }
        let mut v = ChainVerifier::default();
        for (s, p, h, f) in &entries {
            v.check(*s, p, h, f).unwrap();
        }
        assert_eq!(v.verified(), 3);

        let mut edited = entries.clone();
        edited[1].3.actor = "user:mallory".into();
        let mut v = ChainVerifier::default();
        let r: Result<Vec<()>, _> = edited
            .iter()
            .map(|(s, p, h, f)| v.check(*s, p, h, f))
            .collect();
        assert_eq!(r, Err(ChainBreak::Content { seq: 2 }));

        let mut removed = entries.clone();
        removed.remove(1);
        let mut v = ChainVerifier::default();
        let r: Result<Vec<()>, _> = removed
            .iter()
            .map(|(s, p, h, f)| v.check(*s, p, h, f))
            .collect();
        assert_eq!(
            r,
            Err(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }
}
