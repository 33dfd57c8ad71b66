//! `[[notifications]]` entries: a channel of any kind `steward_notify` knows, its secrets
//! given inline or read from private files.

use std::path::Path;

use steward_server::monitoring::DeclaredChannel;

/// A `[[notifications]]` entry: `name`, `kind` and the kind's settings as
/// `steward_notify::Channel` names them. A secret setting (`password`, `token`, …) may
/// instead come from a private file, `<setting>_file`; mail's `ca_cert` (PEM) from
/// `ca_cert_file`, which need not be private.
pub(super) fn channel(table: &toml::Table) -> Result<DeclaredChannel, String> {
    let mut table = table.clone();
    let name = match table.remove("name") {
        Some(toml::Value::String(name)) => name.trim().to_string(),
        Some(_) => return Err("name is a string".into()),
        None => return Err("missing field `name`".into()),
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a name is 1 to 100 characters".into());
    }
    let kind = match table.get("kind").map(toml::Value::as_str) {
        Some(Some(kind)) if steward_notify::Channel::KINDS.contains(&kind) => kind.to_string(),
        Some(Some(other)) => {
            return Err(format!(
                "kind must be one of {}, not {other:?}",
                steward_notify::Channel::KINDS.join(", ")
            ));
        }
        _ => return Err("missing field `kind`".into()),
    };
    for &field in steward_notify::Channel::secret_fields(&kind) {
        from_file(&mut table, field, |path| {
            crate::secret_file::read(path, field).map_err(|e| format!("{e:#}"))
        })?;
    }
    if kind == "email" {
        from_file(&mut table, "ca_cert", |path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("ca_cert_file: cannot read {}: {e}", path.display()))?;
            if text.len() > 64 * 1024 {
                return Err(format!("ca_cert_file: {} is over 64 KiB", path.display()));
            }
            Ok(text)
        })?;
    }
    let channel: steward_notify::Channel = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    channel.check().map_err(|e| e.to_string())?;
    Ok(DeclaredChannel { name, channel })
}

/// Replaces `<field>_file` in `table` by `field`, read with `read`; both at once is an
/// error, since one would be silently ignored.
fn from_file(
    table: &mut toml::Table,
    field: &str,
    read: impl FnOnce(&Path) -> Result<String, String>,
) -> Result<(), String> {
    let file_key = format!("{field}_file");
    let Some(file) = table.remove(&file_key) else {
        return Ok(());
    };
    let path = file
        .as_str()
        .ok_or_else(|| format!("{file_key} is the path of a file"))?;
    if table.contains_key(field) {
        return Err(format!(
            "{field} is given both directly and as a file ({path}): give one"
        ));
    }
    table.insert(
        field.to_string(),
        toml::Value::String(read(Path::new(path))?),
    );
    Ok(())
}
