//! A snapshot's files as the snapshot page shows them. The repository lists everything
//! under a folder, recursively; these pure functions pick the folder's own entries (with
//! what each subfolder holds) and compare two listings.

use std::collections::BTreeMap;

use steward_backup::{Entry, EntryKind};

/// A folder inside a snapshot as a canonical path: `/`-separated, no leading or trailing
/// slash, no empty or `.` parts ("" is the snapshot's root). `..` is kept as typed: the
/// repository finds no such folder.
pub fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` relative to `folder`, if it is inside it (and not the folder itself).
fn inside<'a>(path: &'a str, folder: &str) -> Option<&'a str> {
    if folder.is_empty() {
        return Some(path).filter(|p| !p.is_empty());
    }
    path.strip_prefix(folder)?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty())
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child<'a> {
    pub entry: &'a Entry,
    /// Its name in the folder.
    pub name: &'a str,
    /// For a subfolder: the files and bytes anywhere under it.
    pub files_under: u64,
    pub bytes_under: u64,
}

/// The entries directly in `folder` (normalized), folders first, then by name; at most
/// `limit` of them, with how many there are in all.
pub fn children<'a>(entries: &'a [Entry], folder: &str, limit: usize) -> (Vec<Child<'a>>, usize) {
    let mut direct: BTreeMap<&'a str, Child<'a>> = BTreeMap::new();
    // Totals under each direct subfolder, by its name.
    let mut under: BTreeMap<&'a str, (u64, u64)> = BTreeMap::new();
    for entry in entries {
        let Some(relative) = inside(&entry.path, folder) else {
            continue;
        };
        match relative.split_once('/') {
            None => {
                direct.insert(
                    relative,
                    Child {
                        entry,
                        name: relative,
                        files_under: 0,
                        bytes_under: 0,
                    },
                );
            }
            Some((top, _)) if entry.kind == EntryKind::File => {
                let totals = under.entry(top).or_default();
                totals.0 += 1;
                totals.1 = totals.1.saturating_add(entry.size);
            }
            Some(_) => {}
        }
    }
    let mut all: Vec<Child<'a>> = direct
        .into_values()
        .map(|mut child| {
            if let Some((files, bytes)) = under.get(child.name) {
                (child.files_under, child.bytes_under) = (*files, *bytes);
            }
            child
        })
        .collect();
    all.sort_by(|a, b| {
        (a.entry.kind != EntryKind::Dir, a.name).cmp(&(b.entry.kind != EntryKind::Dir, b.name))
    });
    let total = all.len();
    all.truncate(limit);
    (all, total)
}

/// How an entry differs between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// In this snapshot, not in the other.
    Added,
    /// In the other snapshot, not in this one.
    Removed,
    /// In both, but not the same: another kind, or a file's size or modification time, or a
    /// link's target. (A folder's own time changes whenever a file in it does: not counted.)
    Changed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference<'a> {
    pub change: Change,
    /// The entry in the other snapshot (`None` when added).
    pub before: Option<&'a Entry>,
    /// The entry in this snapshot (`None` when removed).
    pub after: Option<&'a Entry>,
}

impl<'a> Difference<'a> {
    pub fn path(&self) -> &'a str {
        self.after.or(self.before).map_or("", |e| e.path.as_str())
    }
}

/// What changed from `before` (the other snapshot's listing) to `after` (this one's), by
/// path, in path order.
pub fn diff<'a>(before: &'a [Entry], after: &'a [Entry]) -> Vec<Difference<'a>> {
    let old: BTreeMap<&str, &Entry> = before.iter().map(|e| (e.path.as_str(), e)).collect();
    let new: BTreeMap<&str, &Entry> = after.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut out = Vec::new();
    for (path, entry) in &new {
        match old.get(path) {
            None => out.push(Difference {
                change: Change::Added,
                before: None,
                after: Some(entry),
            }),
            Some(was) if differs(was, entry) => out.push(Difference {
                change: Change::Changed,
                before: Some(was),
                after: Some(entry),
            }),
            Some(_) => {}
        }
    }
    for (path, entry) in &old {
        if !new.contains_key(path) {
            out.push(Difference {
                change: Change::Removed,
                before: Some(entry),
                after: None,
            });
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
}

fn differs(was: &Entry, is: &Entry) -> bool {
    if was.kind != is.kind {
        return true;
    }
    match is.kind {
        EntryKind::File => was.size != is.size || was.mtime_ms != is.mtime_ms,
        EntryKind::Symlink => was.link != is.link,
        EntryKind::Dir | EntryKind::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind, size: u64, mtime: i64) -> Entry {
        Entry {
            path: path.into(),
            kind,
            size,
            mode: Some(0o644),
            mtime_ms: Some(mtime),
            link: None,
        }
    }

    fn file(path: &str, size: u64, mtime: i64) -> Entry {
        entry(path, EntryKind::File, size, mtime)
    }

    fn dir(path: &str) -> Entry {
        entry(path, EntryKind::Dir, 0, 1)
    }

    fn tree() -> Vec<Entry> {
        vec![
            dir("srv/share"),
            dir("srv/share/docs"),
            file("srv/share/docs/a.txt", 10, 1),
            dir("srv/share/docs/old"),
            file("srv/share/docs/old/b.txt", 20, 1),
            file("srv/share/zeta.bin", 5, 1),
            file("srv/share/alpha.txt", 7, 1),
            file("srv/shared-not-inside.txt", 1, 1),
        ]
    }

    #[test]
    fn paths_are_made_canonical() {
        assert_eq!(normalize("/srv//share/./docs/"), "srv/share/docs");
        assert_eq!(normalize("/"), "");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("a/../b"), "a/../b");
    }

    #[test]
    fn a_folder_shows_its_own_entries_folders_first_with_their_totals() {
        let entries = tree();
        let (rows, total) = children(&entries, "srv/share", 100);
        let names: Vec<&str> = rows.iter().map(|c| c.name).collect();
        assert_eq!(names, ["docs", "alpha.txt", "zeta.bin"]);
        assert_eq!(total, 3);
        assert_eq!((rows[0].files_under, rows[0].bytes_under), (2, 30));
        assert_eq!((rows[1].files_under, rows[1].bytes_under), (0, 0));
        // A sibling whose name starts the same is not inside.
        let (rows, _) = children(&entries, "srv", 100);
        let names: Vec<&str> = rows.iter().map(|c| c.name).collect();
        assert_eq!(names, ["share", "shared-not-inside.txt"]);
        // The root: only the top folder (implied by its entries' paths when listed itself).
        let (rows, _) = children(&entries, "", 100);
        assert!(rows.is_empty(), "srv itself is not in this listing");
        let mut with_top = tree();
        with_top.insert(0, dir("srv"));
        let (rows, _) = children(&with_top, "", 100);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].name, rows[0].files_under), ("srv", 5));
    }

    #[test]
    fn a_long_folder_is_cut_but_counted() {
        let entries: Vec<Entry> = (0..50).map(|i| file(&format!("d/f{i:03}"), 1, 1)).collect();
        let (rows, total) = children(&entries, "d", 10);
        assert_eq!((rows.len(), total), (10, 50));
        assert_eq!(rows[9].name, "f009");
    }

    #[test]
    fn a_diff_names_added_removed_and_changed_files() {
        let before = tree();
        let mut after = tree();
        after.retain(|e| e.path != "srv/share/zeta.bin");
        after.push(file("srv/share/new.txt", 3, 2));
        for e in &mut after {
            match e.path.as_str() {
                "srv/share/docs/a.txt" => e.size = 11,
                "srv/share/alpha.txt" => e.mtime_ms = Some(9),
                // A folder's time moves with its files: not a change.
                "srv/share/docs" => e.mtime_ms = Some(9),
                _ => {}
            }
        }
        let changes: Vec<(Change, &str)> = diff(&before, &after)
            .iter()
            .map(|d| (d.change, d.path()))
            .collect();
        assert_eq!(
            changes,
            [
                (Change::Changed, "srv/share/alpha.txt"),
                (Change::Changed, "srv/share/docs/a.txt"),
                (Change::Added, "srv/share/new.txt"),
                (Change::Removed, "srv/share/zeta.bin"),
            ]
        );
        assert!(diff(&before, &before).is_empty());
        let mut linked = tree();
        linked[2] = Entry {
            kind: EntryKind::Symlink,
            link: Some("elsewhere".into()),
            ..linked[2].clone()
        };
        assert_eq!(
            diff(&before, &linked)[0].change,
            Change::Changed,
            "a file became a link"
        );
    }
}
