//! The ransomware drills' trend for the Detections page: one bar per finished drill, oldest
//! first, as tall as its time to detect (full height when the attack went undetected),
//! coloured by whether it passed, with a line saying where the figures stand now against
//! before. Drawn on the server as SVG, readable without script (each bar's `<title>`).

use steward_core::Timestamp;
use steward_proto::detection::DrillOut;

use crate::console::format::relative;

/// The drawing's size in SVG units (it scales to the card's width).
pub const WIDTH: u32 = 480;
pub const HEIGHT: u32 = 80;
/// Most drills drawn: the newest.
const MOST: usize = 20;

pub struct DrillTrend {
    pub bars: Vec<Bar>,
    pub summary: String,
}

pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// `trend-pass` or `trend-fail`.
    pub class: &'static str,
    pub title: String,
}

impl DrillTrend {
    /// The trend of `drills` (newest first, as listed); `None` when none has finished.
    pub fn of(drills: &[DrillOut], now: Timestamp) -> Option<DrillTrend> {
        let mut done: Vec<&DrillOut> = drills
            .iter()
            .filter(|d| d.finished_at.is_some())
            .take(MOST)
            .collect();
        if done.is_empty() {
            return None;
        }
        done.reverse();
        let slowest = done
            .iter()
            .filter_map(|d| d.time_to_detect_ms)
            .max()
            .unwrap_or(1)
            .max(1);
        let slot = WIDTH / MOST as u32;
        let bars = done
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let height = match d.time_to_detect_ms {
                    Some(ms) => ((ms * u64::from(HEIGHT)) / slowest).max(2) as u32,
                    None => HEIGHT,
                };
                let detected = d.time_to_detect_ms.map_or_else(
                    || "not detected".to_owned(),
                    |ms| format!("detected in {ms} ms"),
                );
                Bar {
                    x: i as u32 * slot + 2,
                    y: HEIGHT - height,
                    width: slot - 4,
                    height,
                    class: if d.passed == Some(true) {
                        "trend-pass"
                    } else {
                        "trend-fail"
                    },
                    title: format!(
                        "{}, {}: {detected}, {} of {} files lost, {}",
                        relative(d.queued_at, now),
                        d.device_name,
                        d.files_lost.unwrap_or(0),
                        d.files_total.unwrap_or(0),
                        if d.passed == Some(true) {
                            "passed"
                        } else {
                            "failed"
                        }
                    ),
                }
            })
            .collect();
        Some(DrillTrend {
            bars,
            summary: summary(&done),
        })
    }
}

/// "3 of 4 drills passed; time to detect: 12 ms at the median, 9 ms in the latest; files
/// lost: 2 at the median, 1 in the latest."
fn summary(done: &[&DrillOut]) -> String {
    let passed = done.iter().filter(|d| d.passed == Some(true)).count();
    let latest = done.last();
    let mut times: Vec<u64> = done.iter().filter_map(|d| d.time_to_detect_ms).collect();
    let mut lost: Vec<u32> = done.iter().filter_map(|d| d.files_lost).collect();
    times.sort_unstable();
    lost.sort_unstable();
    let mut text = format!(
        "{passed} of {} drill{} passed",
        done.len(),
        if done.len() == 1 { "" } else { "s" }
    );
    if let Some(median) = times.get(times.len() / 2) {
        let last = latest
            .and_then(|d| d.time_to_detect_ms)
            .map_or_else(|| "not detected".to_owned(), |ms| format!("{ms} ms"));
        text.push_str(&format!(
            "; time to detect: {median} ms at the median, {last} in the latest"
        ));
    }
    if let Some(median) = lost.get(lost.len() / 2) {
        let last = latest.and_then(|d| d.files_lost).unwrap_or(0);
        text.push_str(&format!(
            "; files lost: {median} at the median, {last} in the latest"
        ));
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill(queued: i64, ms: Option<u64>, lost: u32, passed: bool) -> DrillOut {
        DrillOut {
            job_id: format!("job-{queued}"),
            device_id: "d1".into(),
            device_name: "office-pc".into(),
            requested_by: "anna".into(),
            queued_at: Timestamp(queued),
            finished_at: Some(Timestamp(queued + 1_000)),
            files_total: Some(200),
            files_lost: Some(lost),
            time_to_detect_ms: ms,
            detection_id: None,
            channels: vec![],
            passed: Some(passed),
            failures: vec![],
        }
    }

    #[test]
    fn bars_run_oldest_first_scaled_to_the_slowest_with_misses_full_height() {
        // Listed newest first, as the service lists them.
        let drills = vec![
            drill(3_000, Some(10), 1, true),
            drill(2_000, None, 200, false),
            drill(1_000, Some(40), 3, true),
        ];
        let mut waiting = drill(4_000, None, 0, false);
        waiting.finished_at = None;
        let mut listed = vec![waiting];
        listed.extend(drills);
        let trend = DrillTrend::of(&listed, Timestamp(10_000)).unwrap();
        assert_eq!(trend.bars.len(), 3, "the unfinished drill is not drawn");
        let heights: Vec<u32> = trend.bars.iter().map(|b| b.height).collect();
        assert_eq!(heights, [HEIGHT, HEIGHT, HEIGHT / 4]);
        assert_eq!(trend.bars[1].class, "trend-fail");
        assert!(
            trend.bars[1].title.contains("not detected"),
            "{}",
            trend.bars[1].title
        );
        assert!(trend.bars[0].x < trend.bars[2].x);
        assert_eq!(
            trend.summary,
            "2 of 3 drills passed; time to detect: 40 ms at the median, 10 ms in the latest; \
             files lost: 3 at the median, 1 in the latest."
        );
    }

    #[test]
    fn no_finished_drill_draws_nothing() {
        let mut waiting = drill(1_000, None, 0, false);
        waiting.finished_at = None;
        assert!(DrillTrend::of(&[waiting], Timestamp(2_000)).is_none());
        assert!(DrillTrend::of(&[], Timestamp(2_000)).is_none());
    }
}
