//! Operating system identity: distribution name and version from `/etc/os-release` (falling
//! back to `/usr/lib/os-release`, as os-release(5) asks), kernel release and machine
//! architecture from `uname` (through sysinfo).
//!
//! os-release is parsed by hand: it is a list of `KEY=value` lines with shell-style quoting,
//! a dozen lines of code, not worth a dependency.

use anyhow::Context;
use steward_core::OsInfo;

use super::read_optional;

/// Reads the running system's [`OsInfo`]. A missing os-release (minimal images) leaves name
/// and version empty.
pub fn collect() -> anyhow::Result<OsInfo> {
    let text = match read_optional("/etc/os-release")? {
        Some(text) => Some(text),
        None => read_optional("/usr/lib/os-release")?,
    };
    let (name, version) = text.as_deref().map(parse_os_release).unwrap_or_default();
    // uname(2) cannot really fail; the file is the same value, as a belt and braces.
    let kernel = match sysinfo::System::kernel_version() {
        Ok(kernel) if !kernel.is_empty() => kernel,
        _ => std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .context("reading /proc/sys/kernel/osrelease")?
            .trim()
            .to_owned(),
    };
    Ok(OsInfo {
        family: "linux".to_owned(),
        name,
        version,
        kernel,
        arch: sysinfo::System::cpu_arch(),
    })
}

/// Distribution name (`NAME`) and version (`VERSION_ID`, else `VERSION`; rolling releases such
/// as Debian sid or Arch have neither) from the text of an os-release file.
pub fn parse_os_release(text: &str) -> (String, String) {
    let mut name = None;
    let mut version_id = None;
    let mut version = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "NAME" => &mut name,
            "VERSION_ID" => &mut version_id,
            "VERSION" => &mut version,
            _ => continue,
        };
        *slot = Some(unquote(value.trim()));
    }
    (
        name.unwrap_or_default(),
        version_id.or(version).unwrap_or_default(),
    )
}

/// Removes shell quoting from an os-release value: `"a \"b\""`, `'a b'` or a bare word.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_owned();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // Inside double quotes only \ " $ ` are escapable; keep other backslashes.
            match chars.next() {
                Some(next @ ('\\' | '"' | '$' | '`')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian() {
        let text = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;
        assert_eq!(
            parse_os_release(text),
            ("Debian GNU/Linux".to_owned(), "12".to_owned())
        );
    }

    #[test]
    fn fedora_with_comments_and_single_quotes() {
        let text =
            "# comment\nNAME='Fedora Linux'\nVERSION=\"40 (Server Edition)\"\nVERSION_ID=40\n\n";
        assert_eq!(
            parse_os_release(text),
            ("Fedora Linux".to_owned(), "40".to_owned())
        );
    }

    #[test]
    fn rolling_release_falls_back_to_version_or_empty() {
        let sid = "NAME=\"Debian GNU/Linux\"\nVERSION=\"trixie/sid\"\n";
        assert_eq!(parse_os_release(sid).1, "trixie/sid");
        let arch = "NAME=\"Arch Linux\"\nBUILD_ID=rolling\n";
        assert_eq!(
            parse_os_release(arch),
            ("Arch Linux".to_owned(), String::new())
        );
    }

    #[test]
    fn escapes_inside_double_quotes() {
        assert_eq!(
            unquote(r#""a \"quoted\" \$name \\ \n""#),
            r#"a "quoted" $name \ \n"#
        );
        assert_eq!(unquote("bare"), "bare");
        assert_eq!(unquote("\""), "\"");
    }
}
