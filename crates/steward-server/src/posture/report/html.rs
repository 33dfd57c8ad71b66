//! The report as one self-contained, print-ready HTML file (its style inside it): what
//! `steward report --format html` writes and the console offers as a download, for a
//! business owner, an auditor or an insurer who has no access to Steward.

use askama::Template;
use steward_proto::posture::{Item, Report};

use crate::console::format::{date, utc};

#[derive(Template)]
#[template(path = "posture_print.html")]
struct PrintPage<'a> {
    report: &'a Report,
    generated: String,
}

impl PrintPage<'_> {
    fn percent(&self, ratio: &Option<f64>) -> String {
        super::super::console::percent(*ratio)
    }

    fn label(&self, status: &str) -> String {
        super::super::console::status_label(status)
    }

    fn coverage(&self, item: &Item) -> String {
        item.coverage
            .map(|c| format!("{}/{}", c.covered, c.judged))
            .unwrap_or_default()
    }

    fn day(&self, at: &Option<steward_core::Timestamp>) -> String {
        at.map(date).unwrap_or_default()
    }

    fn exact(&self, at: &steward_core::Timestamp) -> String {
        utc(*at)
    }
}

pub fn render(report: &Report) -> Result<String, askama::Error> {
    PrintPage {
        report,
        generated: utc(report.generated_at),
    }
    .render()
}
