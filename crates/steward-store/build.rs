//! Embeds the migrations: lists `migrations/NNNN_name.sql`, expands each for both backends
//! (see the top of `src/migrate.rs`) into OUT_DIR, and writes the table the runner reads.
//!
//! A build script rather than a directory-embedding macro: only a build script can tell
//! cargo to rebuild when a file is added to the directory (on stable Rust a macro sees just
//! the files that existed when it last ran), and the expansion here turns a malformed
//! migration into a build error.

#[path = "src/migrate/layout.rs"]
mod layout;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=src/migrate/layout.rs");
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("migrations");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let file = entry
            .file_name()
            .into_string()
            .map_err(|f| format!("{f:?}"))?;
        if entry.file_type()?.is_dir() {
            reject_old_layout(&entry.path())?;
            continue;
        }
        if !file.ends_with(".sql") {
            continue; // README.md
        }
        let (version, name) = layout::parse_file_name(&file).ok_or_else(|| {
            format!("migrations/{file}: a migration is named NNNN_name.sql (lower-case name)")
        })?;
        found.push((version, name.to_string(), file));
    }
    found.sort();
    // The runner applies every version above the database's, in order: a gap or a repeat
    // is a mistake (a file renamed, or two branches that both took the next number).
    for (i, (version, _, file)) in found.iter().enumerate() {
        if *version != i as i64 + 1 {
            return Err(format!("migrations/{file}: expected version {:04}", i + 1).into());
        }
    }

    let mut table = String::from("&[\n");
    for (version, name, file) in &found {
        let source = std::fs::read_to_string(dir.join(file))?;
        let mut texts = Vec::new();
        for backend in layout::BACKENDS {
            let text =
                layout::expand(&source, backend).map_err(|e| format!("migrations/{file}: {e}"))?;
            let path = out.join(backend).join(file);
            std::fs::create_dir_all(out.join(backend))?;
            std::fs::write(&path, text)?;
            texts.push(path.to_str().ok_or("OUT_DIR is not UTF-8")?.to_string());
        }
        writeln!(
            table,
            "    Migration {{ version: {version}, name: {name:?}, sqlite: include_str!({:?}), postgres: include_str!({:?}) }},",
            texts[0], texts[1]
        )?;
    }
    table.push_str("]\n");
    std::fs::write(out.join("migrations.rs"), table)?;
    Ok(())
}

/// The layout before 0011 kept two files per migration in `migrations/sqlite/` and
/// `migrations/postgres/`; a migration still written that way would be silently left out.
fn reject_old_layout(sub: &Path) -> Result<()> {
    for entry in std::fs::read_dir(sub)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            return Err(format!(
                "{}: migrations are one file per version in migrations/, with `-- sqlite:` / \
                 `-- postgres:` blocks where the backends differ (see migrations/README.md)",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}
