//! Network monitors run by an agent instead of the server: a probe of something only a
//! site's own network reaches (a printer, a NAS, the router's admin page). The server puts
//! the probe in the agent's [`Watch`] ([`Watch::with_probes`]); the agent runs it at its
//! interval and reports each result in its next check-in's observations; the server judges
//! the results in order, like the results of its own probes.
//!
//! The probe's settings travel as the JSON the server stores (the `steward-probes` crate's
//! `Probe`): the core only carries them, so it needs no network code.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Watch;
use crate::Timestamp;
use crate::alerting::CheckStatus;

/// The most probes one agent runs.
pub const MAX_PROBES: usize = 32;
/// The most probe results one report carries (the newest are kept).
pub const MAX_PROBE_RESULTS: usize = 256;
/// The shortest interval an agent runs a probe at.
pub const MIN_PROBE_INTERVAL_SECS: u32 = 5;

/// One probe an agent is asked to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeOrder {
    /// The check it answers.
    pub check_id: String,
    /// The probe, as `steward_probes::Probe` JSON.
    pub probe: String,
    pub interval_secs: u32,
    pub timeout_ms: u64,
}

/// One run of a probe, as the agent saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProbeResult {
    pub check_id: String,
    pub status: CheckStatus,
    pub summary: String,
    /// When it ran, by the agent's clock.
    pub at: Timestamp,
}

impl Watch {
    /// This watch list with `probes` to run as well (sorted, at most [`MAX_PROBES`]), its
    /// version covering them, so an agent holding another set is sent this one.
    pub fn with_probes(mut self, mut probes: Vec<ProbeOrder>) -> Watch {
        if probes.is_empty() {
            return self;
        }
        probes.sort_by(|a, b| a.check_id.cmp(&b.check_id));
        probes.truncate(MAX_PROBES);
        let mut hasher = Sha256::new();
        hasher.update(self.version.as_bytes());
        for p in &probes {
            hasher.update(
                format!(
                    "\n{}\t{}\t{}\t{}",
                    p.check_id, p.interval_secs, p.timeout_ms, p.probe
                )
                .as_bytes(),
            );
        }
        self.version = hex::encode(&hasher.finalize()[..8]);
        self.probes = probes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, interval_secs: u32) -> ProbeOrder {
        ProbeOrder {
            check_id: id.into(),
            probe: r#"{"kind":"tcp","host":"192.0.2.7","port":9100}"#.into(),
            interval_secs,
            timeout_ms: 5_000,
        }
    }

    #[test]
    fn probes_change_the_version_and_keep_an_order() {
        let plain = Watch::of([]);
        assert_eq!(
            plain.clone().with_probes(Vec::new()),
            plain,
            "no probes, same watch"
        );
        let one = plain
            .clone()
            .with_probes(vec![order("b", 30), order("a", 30)]);
        assert_ne!(one.version, plain.version);
        assert_eq!(one.probes[0].check_id, "a");
        let same = plain
            .clone()
            .with_probes(vec![order("a", 30), order("b", 30)]);
        assert_eq!(one, same, "the same set in another order is the same watch");
        let slower = plain
            .clone()
            .with_probes(vec![order("a", 60), order("b", 30)]);
        assert_ne!(
            slower.version, one.version,
            "a changed interval is a new watch"
        );
        let many: Vec<ProbeOrder> = (0..100).map(|i| order(&format!("c{i:03}"), 30)).collect();
        assert_eq!(plain.with_probes(many).probes.len(), MAX_PROBES);
    }

    #[test]
    fn a_report_carries_a_bounded_number_of_results_the_newest_kept() {
        let mut seen = crate::checks::Observations {
            probes: (0..300)
                .map(|i| ProbeResult {
                    check_id: "a".into(),
                    status: CheckStatus::Ok,
                    summary: format!("run {i}"),
                    at: Timestamp(i),
                })
                .collect(),
            ..Default::default()
        };
        assert!(seen.check_limits().is_err());
        seen.clamp_to_limits();
        assert_eq!(seen.probes.len(), MAX_PROBE_RESULTS);
        assert_eq!(seen.probes.last().unwrap().summary, "run 299");
        assert!(seen.check_limits().is_ok());
    }
}
