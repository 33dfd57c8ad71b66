//! Secrets read from files. Any setting that carries a secret (`database_url` today) can
//! instead name a file holding it: `X_FILE` in the environment (`STEWARD_DATABASE_URL_FILE`),
//! `x_file` in the config file, or a `--…-file` flag. A secret in a file stays out of the
//! process list, the environment of child processes and the config file, which is often
//! readable by more people than the secret should be.

use std::path::Path;

use anyhow::{Context, bail};

/// The secret in `path`: its content without one trailing newline (`\n` or `\r\n`), so a
/// file written by `echo` or an editor works. Refused, with an error naming the file, when
/// it is missing, unreadable, empty, or readable by every user on the machine.
pub fn read(path: &Path, setting: &str) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{setting}: cannot read secret file {}", path.display()))?;
    if !meta.is_file() {
        bail!("{setting}: secret file {} is not a file", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o004 != 0 {
            bail!(
                "{setting}: secret file {} is readable by every user (mode {mode:03o}); \
                 restrict it, e.g. chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{setting}: cannot read secret file {}", path.display()))?;
    let secret = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if secret.is_empty() {
        bail!("{setting}: secret file {} is empty", path.display());
    }
    Ok(secret.to_string())
}

/// A secret setting given at one level (flags and environment, or the config file) either
/// directly or as a file; both at once is an error, since one would be silently ignored.
pub fn pick(
    setting: &str,
    value: Option<String>,
    file: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    match (value, file) {
        (Some(_), Some(path)) => bail!(
            "{setting} is given both directly and as a file ({}): give one",
            path.display()
        ),
        (Some(value), None) => Ok(Some(value)),
        (None, Some(path)) => read(path, setting).map(Some),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn a_private_file_gives_its_content_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a", "postgres://u:pw@h/db\n", 0o600);
        assert_eq!(read(&p, "database_url").unwrap(), "postgres://u:pw@h/db");
        let p = write(dir.path(), "b", "s3cret\r\n", 0o640);
        assert_eq!(read(&p, "x").unwrap(), "s3cret");
        // Only one newline goes: the rest is the secret's.
        let p = write(dir.path(), "c", " spaced \n\n", 0o400);
        assert_eq!(read(&p, "x").unwrap(), " spaced \n");
    }

    #[test]
    fn missing_empty_and_world_readable_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = format!("{:#}", read(&missing, "database_url").unwrap_err());
        assert!(
            err.contains("database_url") && err.contains("nope"),
            "{err}"
        );
        let blank = write(dir.path(), "blank", "\n", 0o600);
        let err = read(&blank, "x").unwrap_err().to_string();
        assert!(err.contains("blank") && err.contains("empty"), "{err}");
        #[cfg(unix)]
        {
            let open = write(dir.path(), "open", "pw\n", 0o644);
            let err = read(&open, "database_url").unwrap_err().to_string();
            assert!(
                err.contains("readable by every user")
                    && err.contains("open")
                    && err.contains("644"),
                "{err}"
            );
        }
        let err = read(dir.path(), "x").unwrap_err().to_string();
        assert!(err.contains("not a file"), "{err}");
    }

    #[test]
    fn a_value_and_a_file_at_once_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "a", "pw", 0o600);
        assert_eq!(pick("x", None, Some(&p)).unwrap().as_deref(), Some("pw"));
        assert_eq!(
            pick("x", Some("v".into()), None).unwrap().as_deref(),
            Some("v")
        );
        assert_eq!(pick("x", None, None).unwrap(), None);
        let err = pick("x", Some("v".into()), Some(&p))
            .unwrap_err()
            .to_string();
        assert!(err.contains("both"), "{err}");
    }
}
