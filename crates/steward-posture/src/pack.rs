//! A pack: checks defined in TOML files, one `[[check]]` table each. The built-in Linux
//! pack is embedded in the binary ([`builtin`]); a user's pack is read from files and
//! refused whole, naming the file, line and reason, when one of its checks is malformed.

use serde::Deserialize;

/// The small-business checklist's eight sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Hardware,
    Network,
    Software,
    Security,
    Backup,
    Support,
    UserAccess,
    Cloud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// Where a rule's text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file's content (`/proc/sys/…` included).
    File(String),
    /// A command's standard output (`sshd -T`).
    Command(String),
}

/// What the text must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// One of these values.
    OneOf(Vec<String>),
    /// A whole number no larger than this.
    AtMost(i64),
    /// A whole number no smaller than this (`kernel.kptr_restrict` ≥ 1).
    AtLeast(i64),
}

/// One reading and what it must say: the text of `source` — or, with `key`, the value on its
/// `key value` line (as `sshd -T` prints; keys compared without case) — must be as
/// `expect` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub source: Source,
    pub key: Option<String>,
    pub expect: Expect,
}

/// How a check decides: one declarative [`Rule`], a flat list of them, or a built-in
/// evaluator in Rust named by the pack (`rule = { builtin = "firewall-default-deny-inbound" }`)
/// for what no rule can say (the live firewall ruleset, the block devices under the root
/// filesystem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decider {
    Rule(Rule),
    /// Passes when any rule passes (AppArmor on, or SELinux enforcing). A rule whose file or
    /// program is absent counts as not holding, so a machine with neither fails.
    AnyOf(Vec<Rule>),
    /// Passes when every rule passes (a setting's `all` and `default` both off).
    AllOf(Vec<Rule>),
    /// The evaluator of this name in `src/builtin/`.
    Builtin(String),
}

/// A rule as written: `{ command = "sshd -T", key = "permitrootlogin", allowed = ["no"] }`,
/// or `{ any_of = [ {…}, {…} ] }` (`all_of` likewise), or `{ builtin = "NAME" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    builtin: Option<String>,
    file: Option<String>,
    command: Option<String>,
    key: Option<String>,
    allowed: Option<Vec<String>>,
    max: Option<i64>,
    min: Option<i64>,
    any_of: Option<Vec<RawRule>>,
    all_of: Option<Vec<RawRule>>,
}

impl RawRule {
    /// A check's `rule = …`. Lists stay flat: every case met so far is "this or that" or
    /// "this and that", and a flat list reads plainly in a pack and in a report.
    fn decider(mut self) -> Result<Decider, String> {
        if let Some(name) = self.builtin.take() {
            return self.builtin_named(name);
        }
        let (list, name, combine): (_, _, fn(Vec<Rule>) -> Decider) =
            match (self.any_of.take(), self.all_of.take()) {
                (None, None) => return self.resolve().map(Decider::Rule),
                (Some(list), None) => (list, "any_of", Decider::AnyOf),
                (None, Some(list)) => (list, "all_of", Decider::AllOf),
                (Some(_), Some(_)) => return Err("give any_of or all_of, not both".into()),
            };
        let alone = self.file.is_none()
            && self.command.is_none()
            && self.key.is_none()
            && self.allowed.is_none()
            && self.max.is_none()
            && self.min.is_none();
        if !alone {
            return Err(format!(
                "{name} stands alone: each of its rules says what it reads"
            ));
        }
        if list.len() < 2 {
            return Err(format!("{name} needs at least two rules"));
        }
        let rules = list
            .into_iter()
            .enumerate()
            .map(|(i, raw)| raw.resolve().map_err(|e| format!("{name}[{}] {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(combine(rules))
    }

    /// `{ builtin = "NAME" }`: a name the crate knows, and nothing else beside it.
    fn builtin_named(self, name: String) -> Result<Decider, String> {
        let alone = self.file.is_none()
            && self.command.is_none()
            && self.key.is_none()
            && self.allowed.is_none()
            && self.max.is_none()
            && self.min.is_none()
            && self.any_of.is_none()
            && self.all_of.is_none();
        if !alone {
            return Err("a builtin reads what it needs: give it nothing else".into());
        }
        if crate::builtin::find(&name).is_none() {
            return Err(format!("there is no builtin evaluator {name:?}"));
        }
        Ok(Decider::Builtin(name))
    }
}

/// `applies_if = { command = "sshd -T" }` or `{ file = "/etc/ssh/sshd_config" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    file: Option<String>,
    command: Option<String>,
}

fn source(file: Option<String>, command: Option<String>) -> Result<Source, String> {
    match (file, command) {
        (Some(file), None) if file.starts_with('/') => Ok(Source::File(file)),
        (Some(file), None) => Err(format!("file {file:?} must be an absolute path")),
        (None, Some(command)) if !command.trim().is_empty() => Ok(Source::Command(command)),
        (None, None) | (None, Some(_)) => Err("needs a file or a command to read".into()),
        (Some(_), Some(_)) => Err("reads a file or a command, not both".into()),
    }
}

impl RawRule {
    fn resolve(self) -> Result<Rule, String> {
        if self.any_of.is_some() || self.all_of.is_some() {
            return Err("any_of and all_of hold rules; they cannot be nested".into());
        }
        if self.builtin.is_some() {
            return Err("a builtin is a check's whole rule, not one of a list".into());
        }
        let source = source(self.file, self.command)?;
        // Without a key the whole text is the number: a /proc/sys file holds just one.
        let expect = match (self.allowed, self.max, self.min) {
            (Some(allowed), None, None) if !allowed.is_empty() => Expect::OneOf(allowed),
            (None, Some(max), None) => Expect::AtMost(max),
            (None, None, Some(min)) => Expect::AtLeast(min),
            (None, None, None) | (Some(_), None, None) => {
                return Err("needs allowed (a list of values), max or min".into());
            }
            _ => return Err("give one of allowed, max or min".into()),
        };
        Ok(Rule {
            source,
            key: self.key,
            expect,
        })
    }
}

/// One check, as its pack defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub section: Section,
    pub severity: Severity,
    pub rationale: String,
    pub remediation: String,
    /// CIS Controls v8.1 safeguard ids this check evidences (`"4.1"`).
    pub cis: Vec<String>,
    /// The Cyber Essentials v3.3 requirement it evidences (`"secure-configuration"`).
    pub cyber_essentials: Option<String>,
    /// What a Windows and a macOS collector would read for the same question.
    pub windows: Option<String>,
    pub macos: Option<String>,
    /// The program or file whose absence makes the check not applicable (no SSH server:
    /// no SSH checks), rather than unknown.
    pub applies_if: Option<Source>,
    pub rule: Decider,
}

/// A check as written; [`RawCheck::resolve`] checks its rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: String,
    title: String,
    section: Section,
    severity: Severity,
    rationale: String,
    remediation: String,
    #[serde(default)]
    cis: Vec<String>,
    cyber_essentials: Option<String>,
    windows: Option<String>,
    macos: Option<String>,
    applies_if: Option<RawSource>,
    rule: RawRule,
}

impl RawCheck {
    fn resolve(self) -> Result<Check, String> {
        let id = self.id;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "the check id {id:?} must be lowercase letters, digits and dashes"
            ));
        }
        let rule = self.rule.decider().map_err(|e| format!("{id}: rule {e}"))?;
        let applies_if = self
            .applies_if
            .map(|a| source(a.file, a.command))
            .transpose()
            .map_err(|e| format!("{id}: applies_if {e}"))?;
        Ok(Check {
            id,
            title: self.title,
            section: self.section,
            severity: self.severity,
            rationale: self.rationale,
            remediation: self.remediation,
            cis: self.cis,
            cyber_essentials: self.cyber_essentials,
            windows: self.windows,
            macos: self.macos,
            applies_if,
            rule,
        })
    }
}

/// A pack's checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pack {
    pub checks: Vec<Check>,
}

/// Why a pack was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct PackError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    check: Vec<RawCheck>,
}

/// The built-in Linux pack's files, embedded.
const BUILTIN: &[(&str, &str)] = &[
    (
        "packs/linux/ssh.toml",
        include_str!("../packs/linux/ssh.toml"),
    ),
    (
        "packs/linux/ssh-hardening.toml",
        include_str!("../packs/linux/ssh-hardening.toml"),
    ),
    (
        "packs/linux/kernel.toml",
        include_str!("../packs/linux/kernel.toml"),
    ),
    (
        "packs/linux/ipv4.toml",
        include_str!("../packs/linux/ipv4.toml"),
    ),
    (
        "packs/linux/logging.toml",
        include_str!("../packs/linux/logging.toml"),
    ),
    (
        "packs/linux/services.toml",
        include_str!("../packs/linux/services.toml"),
    ),
    // Checks with built-in evaluators (src/builtin/).
    (
        "packs/linux/storage.toml",
        include_str!("../packs/linux/storage.toml"),
    ),
    (
        "packs/linux/firewall.toml",
        include_str!("../packs/linux/firewall.toml"),
    ),
    (
        "packs/linux/updates.toml",
        include_str!("../packs/linux/updates.toml"),
    ),
    (
        "packs/linux/network.toml",
        include_str!("../packs/linux/network.toml"),
    ),
    (
        "packs/linux/accounts.toml",
        include_str!("../packs/linux/accounts.toml"),
    ),
    (
        "packs/linux/files.toml",
        include_str!("../packs/linux/files.toml"),
    ),
    (
        "packs/linux/malware.toml",
        include_str!("../packs/linux/malware.toml"),
    ),
    (
        "packs/linux/desktop.toml",
        include_str!("../packs/linux/desktop.toml"),
    ),
    (
        "packs/linux/hardware.toml",
        include_str!("../packs/linux/hardware.toml"),
    ),
];

/// The built-in Linux pack.
pub fn builtin() -> Pack {
    // The built-in files are tested to parse (`builtin_pack_parses`), so a failure here is
    // a build that skipped its tests.
    Pack::parse(BUILTIN.iter().copied()).unwrap_or_default()
}

/// The line (from 1) of byte `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// For "missing field `x`", toml points at the whole array of checks; the line of the
/// first check without `x` (its header's) says which one.
fn missing_field_line(text: &str, message: &str) -> Option<usize> {
    let field = message.strip_prefix("missing field `")?.split('`').next()?;
    let table: toml::Table = toml::from_str(text).ok()?;
    let checks = table.get("check")?.as_array()?;
    let index = checks
        .iter()
        .position(|c| c.as_table().is_some_and(|t| !t.contains_key(field)))?;
    let header = text.match_indices("[[check]]").nth(index)?.0;
    Some(line_at(text, header))
}

impl Pack {
    /// Reads a pack from `(file name, text)` pairs. Every check id must be unique.
    pub fn parse<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Pack, PackError> {
        let mut checks: Vec<Check> = Vec::new();
        for (file, text) in files {
            let parsed: PackFile = toml::from_str(text).map_err(|e| PackError {
                file: file.to_owned(),
                line: missing_field_line(text, e.message())
                    .or(e.span().map(|span| line_at(text, span.start)))
                    .unwrap_or(0),
                reason: e.message().to_owned(),
            })?;
            for raw in parsed.check {
                let line = text
                    .find(&format!("\"{}\"", raw.id))
                    .map_or(0, |at| line_at(text, at));
                let refused = |reason: String| PackError {
                    file: file.to_owned(),
                    line,
                    reason,
                };
                let check = raw.resolve().map_err(refused)?;
                if checks.iter().any(|c| c.id == check.id) {
                    return Err(refused(format!(
                        "the check id {} is defined twice",
                        check.id
                    )));
                }
                checks.push(check);
            }
        }
        Ok(Pack { checks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_parses() {
        let pack = Pack::parse(BUILTIN.iter().copied()).unwrap();
        assert_eq!(builtin(), pack);
        assert!(pack.checks.iter().all(|c| !c.cis.is_empty()));
    }

    const GOOD: &str = r#"
[[check]]
id = "aslr-full"
title = "ASLR"
section = "security"
severity = "medium"
rationale = "r"
remediation = "m"
rule = { file = "/proc/sys/kernel/randomize_va_space", allowed = ["2"] }
"#;

    #[test]
    fn a_malformed_pack_is_refused_with_file_line_and_reason() {
        assert_eq!(Pack::parse([("mine.toml", GOOD)]).unwrap().checks.len(), 1);
        let cases = [
            (GOOD.replace("security", "secrity"), 5, "unknown variant"),
            (
                GOOD.replace("title = \"ASLR\"\n", ""),
                2,
                "missing field `title`",
            ),
            (
                GOOD.replace(r#"allowed = ["2"]"#, r#"allowed = ["2"], max = 2"#),
                3,
                "give one of allowed, max or min",
            ),
            (
                GOOD.replace(r#"file = "/proc"#, r#"file = "proc"#),
                3,
                "must be an absolute path",
            ),
            (
                GOOD.replace("aslr-full", "ASLR Full"),
                3,
                "lowercase letters",
            ),
            (format!("{GOOD}{GOOD}"), 3, "defined twice"),
            (
                GOOD.replace(
                    r#"file = "/proc/sys/kernel/randomize_va_space", allowed = ["2"]"#,
                    r#"builtin = "no-such-evaluator""#,
                ),
                3,
                "no builtin evaluator \"no-such-evaluator\"",
            ),
            (
                GOOD.replace(r#"allowed = ["2"]"#, r#"builtin = "os-supported""#),
                3,
                "a builtin reads what it needs",
            ),
            (
                GOOD.replace(
                    r#"rule = { file = "/proc/sys/kernel/randomize_va_space", allowed = ["2"] }"#,
                    r#"rule = { any_of = [{ builtin = "os-supported" }, { file = "/a", allowed = ["1"] }] }"#,
                ),
                3,
                "a builtin is a check's whole rule",
            ),
        ];
        for (text, line, says) in cases {
            let error = Pack::parse([("mine.toml", text.as_str())]).unwrap_err();
            assert_eq!(error.file, "mine.toml");
            assert!(error.reason.contains(says), "{error}");
            assert_eq!(error.line, line, "{error}");
        }
    }
}
