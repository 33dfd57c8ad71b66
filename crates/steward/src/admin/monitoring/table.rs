//! Tables for the terminal: columns padded to their widest cell, every cell escaped (names
//! and summaries come from agents and probed hosts: a newline must not forge a row, nor an
//! escape sequence reach the terminal).

use steward_core::Escaped;

pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.iter().map(|c| Escaped(c).to_string()).collect());
    }

    /// The table as lines; the last column is not padded.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                if i + 1 < widths.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.trim_end().to_string()
        };
        let mut out = vec![line(&mut self.headers.iter().copied())];
        for row in &self.rows {
            out.push(line(&mut row.iter().map(String::as_str)));
        }
        out.join("\n")
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_hostile_text_stays_on_its_row() {
        let mut t = Table::new(&["NAME", "STATUS", "SUMMARY"]);
        t.row(vec!["web".into(), "critical".into(), "down".into()]);
        t.row(vec![
            "shop-website".into(),
            "ok".into(),
            "fine\nforged\x1b[31m".into(),
        ]);
        assert_eq!(
            t.render(),
            "NAME          STATUS    SUMMARY\n\
             web           critical  down\n\
             shop-website  ok        fine\\u{a}forged\\u{1b}[31m"
        );
    }
}
