//! The report as a PDF (`steward-pdf` lays it out): the standing per framework, the top
//! remediations, each section's items, the devices' scores and the exceptions — what the
//! console page shows, in print.

use steward_pdf::{Block, Column, Document};
use steward_proto::posture::Report;

use crate::console::format::utc;

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.0} %", r * 100.0))
}

fn column(title: &str, width: f32) -> Column {
    Column {
        title: title.to_owned(),
        width,
    }
}

fn status(s: &str) -> String {
    s.replace('_', " ")
}

pub fn document(report: &Report) -> Document {
    let mut blocks = vec![
        Block::Heading {
            level: 1,
            text: "Security posture report".into(),
        },
        Block::KeyValues(vec![
            ("Generated".into(), utc(report.generated_at)),
            (
                "Devices".into(),
                format!(
                    "{} ({} have reported their checks)",
                    report.devices, report.devices_evaluated
                ),
            ),
            (
                "Organisation".into(),
                format!(
                    "{} — {} pass, {} fail, {} excepted, {} unknown",
                    percent(report.organisation.ratio),
                    report.organisation.pass,
                    report.organisation.fail,
                    report.organisation.excepted,
                    report.organisation.unknown
                ),
            ),
        ]),
        Block::Heading {
            level: 2,
            text: "Standing per framework".into(),
        },
        Block::Table {
            columns: vec![
                column("Framework", 3.0),
                column("Score", 1.0),
                column("Pass / fail / excepted / unknown", 2.0),
                column("Blockers", 3.0),
            ],
            rows: report
                .standings
                .iter()
                .map(|s| {
                    vec![
                        s.title.clone(),
                        percent(s.score.ratio),
                        format!(
                            "{} / {} / {} / {}",
                            s.score.pass, s.score.fail, s.score.excepted, s.score.unknown
                        ),
                        if s.blockers.is_empty() {
                            "none".into()
                        } else {
                            s.blockers.join("; ")
                        },
                    ]
                })
                .collect(),
        },
        Block::Heading {
            level: 2,
            text: "Do these first".into(),
        },
    ];
    if report.remediations.is_empty() {
        blocks.push(Block::Paragraph("Nothing fails.".into()));
    } else {
        blocks.push(Block::Table {
            columns: vec![
                column("#", 0.4),
                column("Item", 2.5),
                column("Devices failing", 1.0),
                column("What to do", 5.0),
            ],
            rows: report
                .remediations
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    vec![
                        (i + 1).to_string(),
                        r.title.clone(),
                        if r.devices_failing > 0 {
                            r.devices_failing.to_string()
                        } else {
                            "organisation".into()
                        },
                        r.remediation.clone(),
                    ]
                })
                .collect(),
        });
    }
    for section in &report.sections {
        blocks.push(Block::Heading {
            level: 2,
            text: format!(
                "{} — {} ({} pass, {} fail)",
                section.title,
                percent(section.score.ratio),
                section.score.pass,
                section.score.fail
            ),
        });
        blocks.push(Block::Table {
            columns: vec![
                column("Status", 1.1),
                column("Item", 3.0),
                column("Coverage", 1.1),
                column("Evidence and reason", 4.0),
                column("Date", 1.4),
            ],
            rows: section
                .items
                .iter()
                .map(|item| {
                    let mut state = status(&item.status);
                    if item.blocker {
                        state.push_str(" (blocker)");
                    }
                    let mut evidence = if item.evidence.is_empty() {
                        item.reason.clone()
                    } else {
                        format!("{} — {}", item.evidence, item.reason)
                    };
                    if let Some(file) = &item.attachment {
                        evidence.push_str(&format!(" (evidence file: {file})"));
                    }
                    vec![
                        state,
                        format!("{} [{}]", item.title, item.id),
                        item.coverage
                            .map(|c| format!("{}/{}", c.covered, c.judged))
                            .unwrap_or_default(),
                        evidence,
                        item.date
                            .map(crate::console::format::date)
                            .unwrap_or_default(),
                    ]
                })
                .collect(),
        });
    }
    blocks.push(Block::Heading {
        level: 2,
        text: "Devices".into(),
    });
    blocks.push(Block::Table {
        columns: vec![
            column("Device", 3.0),
            column("Score", 1.0),
            column("Pass", 1.0),
            column("Fail", 1.0),
            column("Excepted", 1.0),
            column("Unknown", 1.0),
        ],
        rows: report
            .device_scores
            .iter()
            .map(|d| {
                vec![
                    d.device_name.clone(),
                    percent(d.score.ratio),
                    d.score.pass.to_string(),
                    d.score.fail.to_string(),
                    d.score.excepted.to_string(),
                    d.score.unknown.to_string(),
                ]
            })
            .collect(),
    });
    blocks.push(Block::Heading {
        level: 2,
        text: "Accepted exceptions".into(),
    });
    if report.exceptions.is_empty() {
        blocks.push(Block::Paragraph("No exceptions.".into()));
    } else {
        blocks.push(Block::Table {
            columns: vec![
                column("Check", 2.0),
                column("Applies to", 1.5),
                column("Reason", 3.0),
                column("Owner", 1.5),
                column("Until", 1.5),
                column("Status", 1.0),
            ],
            rows: report
                .exceptions
                .iter()
                .map(|e| {
                    vec![
                        e.check_id.clone(),
                        e.target.clone(),
                        e.reason.clone(),
                        e.owner.clone(),
                        utc(e.expires_at),
                        e.status.clone(),
                    ]
                })
                .collect(),
        });
    }
    Document {
        title: "Security posture report".into(),
        subject: format!("Steward posture report, {}", utc(report.generated_at)),
        blocks,
    }
}

/// The PDF's bytes. CPU work: call it off the async workers.
pub fn render(report: &Report) -> Result<Vec<u8>, steward_pdf::PdfError> {
    steward_pdf::render(&document(report))
}
