//! The report as CSV: one row per item and device (an item judged on no device, and a
//! manual item, have one row with the device columns empty). Written by hand: RFC 4180
//! quoting is a dozen lines, less than a dependency.

use steward_proto::posture::Report;

const HEADER: &[&str] = &[
    "section",
    "item",
    "title",
    "kind",
    "status",
    "severity",
    "coverage",
    "device",
    "device_status",
    "evidence",
    "reason",
    "date",
    "references",
];

/// A field quoted when it needs to be; a leading `=`, `+`, `-` or `@` is prefixed with a
/// quote mark so a spreadsheet never runs evidence from a device as a formula.
fn field(out: &mut String, value: &str) {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

fn row(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, f);
    }
    out.push_str("\r\n");
}

fn date(at: Option<steward_core::Timestamp>) -> String {
    at.map(crate::console::format::utc).unwrap_or_default()
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    row(&mut out, HEADER);
    for section in &report.sections {
        for item in &section.items {
            let coverage = item
                .coverage
                .map(|c| format!("{}/{}", c.covered, c.judged))
                .unwrap_or_default();
            let references = item.references.join(" ");
            let severity = item.severity.clone().unwrap_or_default();
            let common = |device: &str, status: &str, evidence: &str, reason: &str, at: String| {
                vec![
                    section.id.clone(),
                    item.id.clone(),
                    item.title.clone(),
                    item.kind.clone(),
                    item.status.clone(),
                    severity.clone(),
                    coverage.clone(),
                    device.to_owned(),
                    status.to_owned(),
                    evidence.to_owned(),
                    reason.to_owned(),
                    at,
                    references.clone(),
                ]
            };
            let rows: Vec<Vec<String>> = if item.devices.is_empty() {
                vec![common(
                    "",
                    "",
                    &item.evidence,
                    &item.reason,
                    date(item.date),
                )]
            } else {
                item.devices
                    .iter()
                    .map(|d| {
                        common(
                            &d.device_name,
                            &d.status,
                            &d.evidence,
                            &d.reason,
                            date(Some(d.evaluated_at)),
                        )
                    })
                    .collect()
            };
            for r in rows {
                let fields: Vec<&str> = r.iter().map(String::as_str).collect();
                row(&mut out, &fields);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        row(&mut out, &["plain", "a,b", "say \"hi\"", "=cmd()", "-1"]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",'=cmd(),'-1\r\n");
    }
}
