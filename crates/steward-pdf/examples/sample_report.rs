//! Writes a sample posture report to the path given, to look at the layout:
//! `cargo run -p steward-pdf --example sample_report -- OUT.pdf`.

use steward_pdf::{Block, Column, Document, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: sample_report OUT.pdf")?;
    let mut blocks = vec![
        Block::Heading {
            level: 1,
            text: "Security posture — Example Ltd".into(),
        },
        Block::KeyValues(vec![
            ("Generated".into(), "2026-11-29 19:30 UTC".into()),
            (
                "Framework".into(),
                "CIS Controls v8.1 IG1 and Cyber Essentials v3.3 ✓".into(),
            ),
            ("Devices".into(), "42 (3 not reporting)".into()),
        ]),
        Block::Heading {
            level: 2,
            text: "Summary".into(),
        },
        Block::Paragraph(
            "Steward checked every device against the selected safeguards. Scores ≥ 80 % are \
             shown as passing; a check that could not be evaluated is unknown, never a pass. \
             A-very-long-identifier-without-spaces-that-is-wider-than-a-line-and-must-be-broken-\
             somewhere-between-its-characters-to-fit."
                .into(),
        ),
        Block::Heading {
            level: 3,
            text: "Emoji 🙂 and 漢字".into(),
        },
    ];
    blocks.push(Block::Table {
        columns: vec![
            Column {
                title: "Device".into(),
                width: 2.0,
            },
            Column {
                title: "Check".into(),
                width: 4.0,
            },
            Column {
                title: "Result".into(),
                width: 1.0,
            },
            Column {
                title: "Evidence".into(),
                width: 4.0,
            },
        ],
        rows: (1..=80)
            .map(|n| {
                vec![
                    format!("host-{n:03}.example.net"),
                    "SSH root login is disabled".into(),
                    if n % 3 == 0 { "fail" } else { "pass" }.into(),
                    format!(
                        "PermitRootLogin {} (sshd -T)",
                        if n % 3 == 0 { "yes" } else { "no" }
                    ),
                ]
            })
            .collect(),
    });
    let doc = Document {
        title: "Posture report".into(),
        subject: "Example".into(),
        blocks,
    };
    std::fs::write(path, render(&doc)?)?;
    Ok(())
}
