//! Monitoring declared in the config file (`[[checks]]`, `[[notifications]]`, `[[routes]]`,
//! `[[maintenance]]`), and backup policies (`[[backups]]`): each entry is validated into a typed value on its own, so a bad
//! entry is reported — with the line it starts on and the reason — and left out, while the
//! entries that are right still run. `steward admin checks add` and `maintenance add` read
//! their flags through the same parsers ([`checks::definition`], [`maintenance::window`]).

pub mod backups;
mod channels;
pub mod checks;
pub mod maintenance;
pub mod routes;

use std::path::Path;

use steward_server::monitoring::channels::DeclaredRoute;
use steward_server::monitoring::windows::{DeclaredWindow, Named};
use steward_server::monitoring::{DeclaredChannel, DeclaredCheck, DeclaredDeviceCheck};

/// The entries of a file that were right, and what was wrong with the others.
#[derive(Debug, Default, Clone)]
pub struct Declared {
    pub checks: Vec<DeclaredCheck>,
    /// Device checks; their groups and devices by name, looked up at start.
    pub device_checks: Vec<DeclaredDeviceCheck>,
    pub channels: Vec<DeclaredChannel>,
    pub routes: Vec<DeclaredRoute>,
    pub windows: Vec<DeclaredWindow>,
    /// Backup policies; their groups and devices by name, looked up at start.
    pub backups: Vec<steward_server::backup::declared::DeclaredPolicy>,
    /// "line 12: check \"shop\": interval: …", one per entry left out.
    pub problems: Vec<String>,
}

/// An entry as the file holds it, with where it starts.
pub type RawEntry = toml::Spanned<toml::Table>;

/// The file's monitoring sections, as written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sections<'a> {
    pub checks: &'a [RawEntry],
    pub notifications: &'a [RawEntry],
    pub routes: &'a [RawEntry],
    pub maintenance: &'a [RawEntry],
    pub backups: &'a [RawEntry],
}

impl Declared {
    /// Names the file in every problem, and in where each route and window was declared
    /// (their targets are looked up only when stored, at start).
    pub fn locate(&mut self, file: &Path) {
        let at = |place: &mut String| *place = format!("{} {place}", file.display());
        self.problems.iter_mut().for_each(at);
        self.routes.iter_mut().for_each(|r| at(&mut r.origin));
        self.windows.iter_mut().for_each(|w| at(&mut w.origin));
        self.backups.iter_mut().for_each(|b| at(&mut b.origin));
    }
}

/// Reads the entries of a file whose text is `text` (for line numbers).
pub fn read(text: &str, sections: Sections<'_>) -> Declared {
    let mut out = Declared::default();
    // The line of the entry's `[[…]]` header.
    let line = |entry: &RawEntry| {
        text[..entry.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1
    };
    for entry in sections.checks {
        let table = entry.get_ref();
        match checks::definition(table) {
            Ok(c)
                if out.checks.iter().any(|x| x.name == c.name())
                    || out.device_checks.iter().any(|x| x.name == c.name()) =>
            {
                out.problems.push(format!(
                    "line {}: check {:?}: another check has this name",
                    line(entry),
                    c.name()
                ))
            }
            Ok(checks::CheckDefinition::Monitor(c)) => out.checks.push(c),
            Ok(checks::CheckDefinition::Device(c)) => out.device_checks.push(c.declared()),
            Err(reason) => out.problems.push(format!(
                "line {}: check {}: {reason}",
                line(entry),
                name_of(table, "name")
            )),
        }
    }
    for entry in sections.notifications {
        match channels::channel(entry.get_ref()) {
            Ok(c) if out.channels.iter().any(|x| x.name == c.name) => out.problems.push(format!(
                "line {}: notification {:?}: another notification has this name",
                line(entry),
                c.name
            )),
            Ok(c) => out.channels.push(c),
            Err(reason) => out.problems.push(format!(
                "line {}: notification {}: {reason}",
                line(entry),
                name_of(entry.get_ref(), "name")
            )),
        }
    }
    for entry in sections.routes {
        match routes::route(entry.get_ref(), format!("line {}", line(entry))) {
            Ok(r) => out.routes.push(r),
            Err(reason) => out.problems.push(format!(
                "line {}: route to {}: {reason}",
                line(entry),
                name_of(entry.get_ref(), "channel")
            )),
        }
    }
    for entry in sections.maintenance {
        match maintenance::window(entry.get_ref(), format!("line {}", line(entry))) {
            Ok(w) if out.windows.iter().any(|x| x.name == w.name) => out.problems.push(format!(
                "line {}: maintenance {:?}: another maintenance window has this name",
                line(entry),
                w.name
            )),
            Ok(w) => out.windows.push(w),
            Err(reason) => out.problems.push(format!(
                "line {}: maintenance {}: {reason}",
                line(entry),
                name_of(entry.get_ref(), "name")
            )),
        }
    }
    for entry in sections.backups {
        match backups::policy(entry.get_ref(), format!("line {}", line(entry))) {
            Ok(b) if out.backups.iter().any(|x| x.policy.name == b.policy.name) => {
                out.problems.push(format!(
                    "line {}: backup policy {:?}: another backup policy has this name",
                    line(entry),
                    b.policy.name
                ))
            }
            Ok(b) => out.backups.push(b),
            Err(reason) => out.problems.push(format!(
                "line {}: backup policy {}: {reason}",
                line(entry),
                name_of(entry.get_ref(), "name")
            )),
        }
    }
    out
}

fn name_of(table: &toml::Table, key: &str) -> String {
    table
        .get(key)
        .and_then(toml::Value::as_str)
        .map_or_else(|| "(without a name)".to_string(), |n| format!("{n:?}"))
}

/// What an entry covers: at most one of `device`, `group`, `tag` (and for a maintenance
/// window `check`), by name; none is every device.
fn named(
    device: Option<String>,
    group: Option<String>,
    tag: Option<String>,
    check: Option<String>,
) -> Result<Named, String> {
    let choice = if check.is_some() {
        "device, group, tag or check"
    } else {
        "device, group or tag"
    };
    let given = [
        device.map(Named::Device),
        group.map(Named::Group),
        tag.map(Named::Tag),
        check.map(Named::Check),
    ];
    let mut given = given.into_iter().flatten();
    match (given.next(), given.next()) {
        (None, _) => Ok(Named::All),
        (Some(one), None) => {
            let (Named::Device(n) | Named::Group(n) | Named::Tag(n) | Named::Check(n)) = &one
            else {
                return Ok(one);
            };
            if n.trim().is_empty() || n.chars().count() > 256 || n.chars().any(char::is_control) {
                return Err("a device, group, tag or check is named by 1 to 256 characters".into());
            }
            Ok(one)
        }
        (Some(_), Some(_)) => Err(format!("give one of {choice} (none: every device)")),
    }
}

#[cfg(test)]
mod tests;
