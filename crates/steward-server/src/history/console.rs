//! The device page's metrics section: charts of CPU, memory, load, filesystems, disk I/O
//! and network over the last hour, day, week, month or year (the `mr` parameter), drawn on
//! the server by `chart`.

use steward_core::Timestamp;
use steward_core::history::keeping::{DAY_MS, HOUR_MS};
use steward_core::history::{History, Resolution, SeriesKind, SeriesName, Unit};

use super::chart::{self, ChartView, Input};
use super::{Result, SeriesRead};
use crate::devices::OpenDevice;

/// The ranges the page offers: the `mr` value, its label and its length.
pub const RANGES: [(&str, &str, i64); 5] = [
    ("1h", "1 h", HOUR_MS),
    ("24h", "24 h", DAY_MS),
    ("7d", "7 d", 7 * DAY_MS),
    ("30d", "30 d", 30 * DAY_MS),
    ("1y", "1 y", 365 * DAY_MS),
];
/// The range shown when none (or an unknown one) is asked for.
pub const DEFAULT_RANGE: &str = "24h";
/// Points per line: about one every 4 px of a chart a card wide.
const CHART_POINTS: usize = 180;

/// The `mr` value to use: the one asked for when the page offers it, else the default.
pub fn range_key(asked: Option<&str>) -> &'static str {
    RANGES
        .iter()
        .find(|(key, _, _)| Some(*key) == asked)
        .map_or(DEFAULT_RANGE, |(key, _, _)| key)
}

pub struct RangeTab {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// The section as the template shows it.
pub struct Charts {
    pub tabs: Vec<RangeTab>,
    /// What the points are: every sample, or averages of 5 minutes or an hour (or more).
    pub resolution: String,
    pub charts: Vec<ChartView>,
    /// False until the device's first sample: the section then says only that.
    pub has_history: bool,
}

/// A chart: which series it draws and how each is labelled.
struct Group {
    id: &'static str,
    title: &'static str,
    unit: Unit,
    kinds: &'static [SeriesKind],
}

const GROUPS: [Group; 6] = [
    Group {
        id: "chart-cpu",
        title: "CPU",
        unit: Unit::Percent,
        kinds: &[SeriesKind::Cpu],
    },
    Group {
        id: "chart-memory",
        title: "Memory",
        unit: Unit::Percent,
        kinds: &[SeriesKind::Memory, SeriesKind::Swap],
    },
    Group {
        id: "chart-load",
        title: "Load (1 min)",
        unit: Unit::Load,
        kinds: &[SeriesKind::Load],
    },
    Group {
        id: "chart-filesystems",
        title: "Filesystems used",
        unit: Unit::Percent,
        kinds: &[SeriesKind::Fs],
    },
    Group {
        id: "chart-disks",
        title: "Disk I/O",
        unit: Unit::BytesPerSecond,
        kinds: &[SeriesKind::DiskRead, SeriesKind::DiskWrite],
    },
    Group {
        id: "chart-network",
        title: "Network",
        unit: Unit::BytesPerSecond,
        kinds: &[SeriesKind::NetRx, SeriesKind::NetTx],
    },
];

/// Longest mount point, disk or interface name a chart shows (the rest as `…`): a name
/// may be 1,024 characters, and it appears in every hover column.
const SUBJECT_CHARS: usize = 40;

fn label(name: &SeriesName) -> String {
    let full = name.subject().unwrap_or_default();
    let subject = if full.chars().count() > SUBJECT_CHARS {
        let cut: String = full.chars().take(SUBJECT_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        full.to_string()
    };
    match name.kind() {
        SeriesKind::Cpu => "CPU".into(),
        SeriesKind::Memory => "Memory".into(),
        SeriesKind::Swap => "Swap".into(),
        SeriesKind::Load => "Load".into(),
        SeriesKind::Fs => subject,
        SeriesKind::DiskRead => format!("{subject} read"),
        SeriesKind::DiskWrite => format!("{subject} write"),
        SeriesKind::NetRx => format!("{subject} in"),
        SeriesKind::NetTx => format!("{subject} out"),
    }
}

/// The charts of `device` over the range `key` ending at `now`; `href` makes the link of
/// each range tab.
pub async fn charts(
    device: &OpenDevice<'_>,
    key: &str,
    now: Timestamp,
    keep: &History,
    href: impl Fn(&'static str) -> String,
) -> Result<Charts> {
    let key = range_key(Some(key));
    let span = RANGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(DAY_MS, |(_, _, ms)| *ms);
    let tabs = RANGES
        .iter()
        .map(|(k, label, _)| RangeTab {
            label,
            href: href(k),
            current: *k == key,
        })
        .collect();
    let (from, to) = (Timestamp(now.0 - span), now.plus_millis(1));
    let catalog = device.metric_catalog().await?;
    let mut names: Vec<SeriesName> = catalog
        .as_ref()
        .map(|c| c.names().to_vec())
        .unwrap_or_default();
    // Within a chart, by what it is about, then read before write (in before out).
    names.sort_by(|a, b| (a.subject(), a.kind()).cmp(&(b.subject(), b.kind())));
    let read = super::read(
        device,
        catalog.as_ref(),
        &names,
        (from, to),
        now,
        keep,
        CHART_POINTS,
    )
    .await?;
    let mut series = read.series;
    let charts = GROUPS
        .iter()
        .map(|group| {
            let (mine, rest): (Vec<SeriesRead>, Vec<SeriesRead>) = std::mem::take(&mut series)
                .into_iter()
                .partition(|s| group.kinds.contains(&s.name.kind()));
            series = rest;
            let inputs = mine
                .into_iter()
                .map(|s| Input {
                    label: label(&s.name),
                    step_ms: s.step_ms,
                    points: s.points,
                })
                .collect();
            chart::draw(group.id, group.title, group.unit, from, to, inputs)
        })
        .collect();
    Ok(Charts {
        tabs,
        resolution: describe(read.resolution, span),
        charts,
        has_history: catalog.is_some(),
    })
}

fn describe(resolution: Resolution, span: i64) -> String {
    let merged = span / CHART_POINTS as i64 > resolution.width_ms();
    match (resolution, merged) {
        (Resolution::Raw, false) => "every sample".into(),
        (Resolution::Raw, true) => "averages of a few minutes' samples".into(),
        (Resolution::FiveMinutes, _) => "averages of 5 minutes or more".into(),
        (Resolution::Hourly, _) => "hourly averages or longer".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_say_what_a_line_is_and_stay_short() {
        let name = |s: &str| SeriesName::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(label(&name("cpu")), "CPU");
        assert_eq!(label(&name("fs:/home")), "/home");
        assert_eq!(label(&name("disk_write:nvme0n1")), "nvme0n1 write");
        assert_eq!(label(&name("net_rx:eth0")), "eth0 in");
        let long = label(&name(&format!("fs:/{}", "x".repeat(1000))));
        assert_eq!(long.chars().count(), SUBJECT_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn an_unknown_range_is_the_default() {
        assert_eq!(range_key(Some("30d")), "30d");
        assert_eq!(range_key(Some("2w")), DEFAULT_RANGE);
        assert_eq!(range_key(None), DEFAULT_RANGE);
    }
}
