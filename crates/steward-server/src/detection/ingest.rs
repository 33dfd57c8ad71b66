//! An agent report's `detections` section: bounded when the report is parsed (see
//! `crate::ingest::check_report`), written with the report's own commit, and the
//! `detection` check judged as soon as it is stored.

use std::collections::HashMap;

use steward_core::detection::Detected;
use steward_core::detection::alert::left_by;
use steward_store::DetectionWrite;

use crate::state::AppState;

/// The delivery's detections as writes: a detection reported by several reports of one
/// delivery is taken from the last (it carries every response step so far).
pub fn writes(detections: Vec<Detected>) -> Vec<DetectionWrite> {
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, Detected> = HashMap::new();
    for d in detections {
        if !latest.contains_key(&d.local_id) {
            order.push(d.local_id.clone());
        }
        latest.insert(d.local_id.clone(), d);
    }
    order
        .into_iter()
        .filter_map(|id| latest.remove(&id))
        .map(|detected| {
            let (stopped, isolated) = left_by(&detected.responses);
            DetectionWrite {
                detected,
                stopped,
                isolated,
            }
        })
        .collect()
}

/// After the commit: the device's check judged now (critical at once for a new
/// detection), and each drill's detection noted for its scoring.
pub async fn stored(state: &AppState, device_id: &str, count: usize) {
    tracing::info!(device = %device_id, detections = count, "detections recorded");
    super::alerts::judge(state).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_core::Timestamp;
    use steward_core::detection::{DetectionKind, ResponseAction, ResponseStep};

    fn d(id: &str, steps: usize) -> Detected {
        Detected {
            local_id: id.into(),
            kind: DetectionKind::Ransomware,
            detected_at: Timestamp(1),
            summary: String::new(),
            process: None,
            ancestors: Vec::new(),
            signals: Vec::new(),
            files: Vec::new(),
            responses: (0..steps)
                .map(|_| ResponseStep {
                    action: ResponseAction::Stop,
                    at: Timestamp(2),
                    ok: true,
                    message: String::new(),
                    job: None,
                })
                .collect(),
            drill: None,
        }
    }

    #[test]
    fn the_last_report_of_a_detection_wins_and_order_is_kept() {
        let w = writes(vec![d("a", 0), d("b", 0), d("a", 1)]);
        let ids: Vec<&str> = w.iter().map(|w| w.detected.local_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(w[0].detected.responses.len(), 1);
        assert!(w[0].stopped);
        assert!(!w[1].stopped);
    }
}
