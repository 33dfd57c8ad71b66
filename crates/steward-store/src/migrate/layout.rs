//! The migration file layout: which files are migrations, and each file's text for one
//! backend (the marker syntax is described at the top of `migrate.rs`).
//!
//! Self-contained (std only) because the build script includes this file too: it expands
//! every migration at build time, so a misspelt file name or an unclosed marker block fails
//! the build instead of a server's start.

/// The backends a migration file can address, by the name used in its markers.
pub const BACKENDS: [&str; 2] = ["sqlite", "postgres"];

/// `NNNN_name.sql` → (version, name). `None` for a file that is not a migration.
pub fn parse_file_name(file: &str) -> Option<(i64, &str)> {
    let stem = file.strip_suffix(".sql")?;
    let (digits, name) = stem.split_once('_')?;
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) || !name_ok {
        return None;
    }
    Some((digits.parse().ok()?, name))
}

/// The text of a migration for `backend`: lines outside marker blocks, and the lines of the
/// block sections marked for `backend`, each byte kept as written; marker lines are dropped.
pub fn expand(source: &str, backend: &str) -> Result<String, String> {
    if !BACKENDS.contains(&backend) {
        return Err(format!("unknown backend {backend:?}"));
    }
    let mut out = String::with_capacity(source.len());
    // Inside a block: the backends seen so far, and whether the current section is ours.
    let mut block: Option<(Vec<&str>, bool)> = None;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let n = i + 1;
        match marker(line) {
            Some(Marker::Backend(name)) => {
                if !BACKENDS.contains(&name) {
                    return Err(format!("line {n}: unknown backend {name:?} in a marker"));
                }
                let (seen, ours) = block.get_or_insert_with(|| (Vec::new(), false));
                if seen.contains(&name) {
                    return Err(format!("line {n}: a second `-- {name}:` in one block"));
                }
                seen.push(name);
                *ours = name == backend;
            }
            Some(Marker::End) => {
                if block.take().is_none() {
                    return Err(format!("line {n}: `-- end` outside a block"));
                }
            }
            None => {
                if block.as_ref().is_none_or(|(_, ours)| *ours) {
                    out.push_str(line);
                }
            }
        }
    }
    if block.is_some() {
        return Err("a block is not closed with `-- end`".to_string());
    }
    Ok(out)
}

enum Marker<'a> {
    Backend(&'a str),
    End,
}

/// A marker is a whole line: `-- NAME:` or `-- end` (surrounding blanks allowed). Any
/// other comment, `-- sqlite: note` included, is ordinary text.
fn marker(line: &str) -> Option<Marker<'_>> {
    let rest = line.trim().strip_prefix("--")?.trim();
    if rest == "end" {
        return Some(Marker::End);
    }
    let name = rest.strip_suffix(':')?;
    let is_word = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase());
    is_word.then_some(Marker::Backend(name))
}
