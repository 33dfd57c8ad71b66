//! The ransomware fire drill's scoring. The agent runs a harmless simulated attack on a
//! scratch folder of its own; the drill passes when the detector caught it, few files were
//! lost, and the alert reached every channel of its route.

use serde::{Deserialize, Serialize};

/// Most files a drill may lose and still pass: the detection target's median.
pub const MAX_FILES_LOST: u32 = 5;

/// What the agent measured of one drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrillRun {
    /// Files the simulation had to encrypt.
    pub files_total: u32,
    /// Files whose content was destroyed before the simulation was stopped.
    pub files_lost: u32,
    /// From the simulation's first write to the detector's verdict; `None`: not detected.
    pub time_to_detect_ms: Option<u64>,
    /// The detection's local id, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
}

/// How a drill came out, with every reason it did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DrillScore {
    pub passed: bool,
    pub failures: Vec<String>,
}

/// Scores a drill from the agent's measurement and which of the route's channels delivered
/// the alert (`channel name`, delivered).
pub fn score(run: &DrillRun, channels: &[(String, bool)]) -> DrillScore {
    let mut failures = Vec::new();
    match run.time_to_detect_ms {
        None => failures.push("the simulated attack was not detected".to_string()),
        Some(_) if run.files_lost > MAX_FILES_LOST => failures.push(format!(
            "{} files were lost before the simulation was stopped (at most {MAX_FILES_LOST})",
            run.files_lost
        )),
        Some(_) => {}
    }
    if channels.is_empty() {
        failures.push("no notification channel is routed for the alert".to_string());
    }
    for (name, delivered) in channels {
        if !delivered {
            failures.push(format!("the alert did not reach {name}"));
        }
    }
    DrillScore {
        passed: failures.is_empty(),
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lost: u32, ms: Option<u64>) -> DrillRun {
        DrillRun {
            files_total: 200,
            files_lost: lost,
            time_to_detect_ms: ms,
            detection: None,
        }
    }

    #[test]
    fn a_drill_passes_only_when_caught_early_and_every_channel_delivered() {
        let mail = vec![("mail".to_string(), true)];
        assert!(score(&run(2, Some(40)), &mail).passed);
        let late = score(&run(9, Some(900)), &mail);
        assert!(!late.passed);
        assert!(late.failures[0].contains("9 files were lost"));
        let missed = score(&run(200, None), &mail);
        assert_eq!(missed.failures, ["the simulated attack was not detected"]);
        let undelivered = score(&run(0, Some(5)), &[("webhook".into(), false)]);
        assert_eq!(undelivered.failures, ["the alert did not reach webhook"]);
        assert!(!score(&run(0, Some(5)), &[]).passed);
    }
}
