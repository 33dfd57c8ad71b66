//! A snapshot's files as the snapshot page shows them: pure functions that order a folder's
//! own entries and compare two listings of a subtree, each of which may have stopped at its
//! limit.

use std::cmp::Ordering;
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
}

/// The entries directly in `folder` (normalized), folders first, then by name; at most
/// `limit` of them, with how many there are in all.
pub fn children<'a>(entries: &'a [Entry], folder: &str, limit: usize) -> (Vec<Child<'a>>, usize) {
    let mut all: Vec<Child<'a>> = entries
        .iter()
        .filter_map(|entry| {
            let name = inside(&entry.path, folder).filter(|name| !name.contains('/'))?;
            Some(Child { entry, name })
        })
        .collect();
    all.sort_by(|a, b| {
        (a.entry.kind != EntryKind::Dir, a.name).cmp(&(b.entry.kind != EntryKind::Dir, b.name))
    });
    let total = all.len();
    all.truncate(limit);
    (all, total)
}

/// The order a snapshot's tree is listed in: depth first, each folder's entries by name —
/// paths compared part by part (`a/x` before `a-b`, unlike plain text order).
fn tree_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// A listing of a subtree, as far as it went: its entries in tree order, and whether it
/// stopped at its limit.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub entries: &'a [Entry],
    pub cut: bool,
}

impl<'a> Listed<'a> {
    /// The last path this listing is complete up to: `None` when it is complete.
    fn complete_to(&self) -> Option<&'a str> {
        self.cut
            .then(|| self.entries.last().map_or("", |e| e.path.as_str()))
    }
}

/// What two listings can be compared on: everything when neither was cut, else the part of
/// the tree both hold whole — up to the earlier of the places they stopped, which is
/// answered too. (A listing stops at a place in tree order; past it, an entry missing from
/// it says nothing.)
fn comparable<'a>(
    before: Listed<'a>,
    after: Listed<'a>,
) -> (Vec<&'a Entry>, Vec<&'a Entry>, Option<&'a str>) {
    let until = match (before.complete_to(), after.complete_to()) {
        (Some(a), Some(b)) => Some(std::cmp::min_by(a, b, |a, b| tree_order(a, b))),
        (a, b) => a.or(b),
    };
    let within = |entries: &'a [Entry]| -> Vec<&'a Entry> {
        entries
            .iter()
            .filter(|e| until.is_none_or(|u| tree_order(&e.path, u) != Ordering::Greater))
            .collect()
    };
    (within(before.entries), within(after.entries), until)
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

/// What changed from `before` (the other snapshot's listing) to `after` (this one's), in
/// tree order; and, when either listing was cut, the path the comparison stopped at (what
/// changed after it is not known).
pub fn diff<'a>(before: Listed<'a>, after: Listed<'a>) -> (Vec<Difference<'a>>, Option<&'a str>) {
    let (before, after, until) = comparable(before, after);
    let old: BTreeMap<&str, &'a Entry> = before.iter().map(|e| (e.path.as_str(), *e)).collect();
    let new: BTreeMap<&str, &'a Entry> = after.iter().map(|e| (e.path.as_str(), *e)).collect();
    let mut out = Vec::new();
    for (path, entry) in &new {
        match old.get(path) {
            None => out.push(Difference {
                change: Change::Added,
                before: None,
                after: Some(*entry),
            }),
            Some(was) if differs(was, entry) => out.push(Difference {
                change: Change::Changed,
                before: Some(*was),
                after: Some(*entry),
            }),
            Some(_) => {}
        }
    }
    for (path, entry) in &old {
        if !new.contains_key(path) {
            out.push(Difference {
                change: Change::Removed,
                before: Some(*entry),
                after: None,
            });
        }
    }
    out.sort_by(|a, b| tree_order(a.path(), b.path()));
    (out, until)
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

    fn whole(entries: &[Entry]) -> Listed<'_> {
        Listed {
            entries,
            cut: false,
        }
    }

    fn cut(entries: &[Entry]) -> Listed<'_> {
        Listed { entries, cut: true }
    }

    #[test]
    fn paths_are_made_canonical() {
        assert_eq!(normalize("/srv//share/./docs/"), "srv/share/docs");
        assert_eq!(normalize("/"), "");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("a/../b"), "a/../b");
    }

    #[test]
    fn a_folder_shows_its_own_entries_folders_first() {
        let listed = vec![
            file("srv/share/zeta.bin", 5, 1),
            dir("srv/share/docs"),
            file("srv/share/alpha.txt", 7, 1),
        ];
        let (rows, total) = children(&listed, "srv/share", 100);
        let names: Vec<&str> = rows.iter().map(|c| c.name).collect();
        assert_eq!(names, ["docs", "alpha.txt", "zeta.bin"]);
        assert_eq!(total, 3);
        // Whatever else a listing holds is not the folder's own: what is deeper, the
        // folder itself (a file listed as itself), a sibling whose name starts the same.
        let entries = tree();
        let (rows, _) = children(&entries, "srv", 100);
        let names: Vec<&str> = rows.iter().map(|c| c.name).collect();
        assert_eq!(names, ["share", "shared-not-inside.txt"]);
        let (rows, _) = children(&entries[5..6], "srv/share/zeta.bin", 100);
        assert!(rows.is_empty());
        let top = [dir("srv")];
        let (rows, _) = children(&top, "", 100);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "srv");
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
        let (differences, until) = diff(whole(&before), whole(&after));
        let changes: Vec<(Change, &str)> =
            differences.iter().map(|d| (d.change, d.path())).collect();
        assert_eq!(
            changes,
            [
                (Change::Changed, "srv/share/alpha.txt"),
                (Change::Changed, "srv/share/docs/a.txt"),
                (Change::Added, "srv/share/new.txt"),
                (Change::Removed, "srv/share/zeta.bin"),
            ]
        );
        assert_eq!(until, None, "neither listing was cut");
        assert!(diff(whole(&before), whole(&before)).0.is_empty());
        let mut linked = tree();
        linked[2] = Entry {
            kind: EntryKind::Symlink,
            link: Some("elsewhere".into()),
            ..linked[2].clone()
        };
        assert_eq!(
            diff(whole(&before), whole(&linked)).0[0].change,
            Change::Changed,
            "a file became a link"
        );
    }

    #[test]
    fn cut_listings_are_compared_only_as_far_as_both_reach() {
        // Tree order: `a`'s contents come before `a-b`, which text order puts first.
        let other = vec![
            dir("a"),
            file("a/x", 1, 1),
            file("a-b", 1, 1),
            file("b", 1, 1),
        ];
        let this = vec![dir("a"), file("a/y", 1, 1)];
        let (changes, until) = diff(whole(&other), cut(&this));
        let changes: Vec<(Change, &str)> = changes.iter().map(|d| (d.change, d.path())).collect();
        assert_eq!(
            changes,
            [(Change::Removed, "a/x"), (Change::Added, "a/y")],
            "a-b and b lie past where this listing stopped: not taken for removed"
        );
        assert_eq!(until, Some("a/y"));
        // Both cut: the earlier stop holds.
        let other = vec![dir("a"), file("a/x", 1, 1), dir("b"), file("b/1", 1, 1)];
        let (changes, until) = diff(cut(&other), cut(&this));
        assert_eq!(until, Some("a/y"));
        assert_eq!(changes.len(), 2, "b and b/1 are past a/y");
        let (_, until) = diff(cut(&this), cut(&other));
        assert_eq!(until, Some("a/y"), "whichever side stopped first");
        // A listing cut before its first entry compares nothing.
        let (changes, until) = diff(cut(&[]), whole(&other));
        assert!(changes.is_empty());
        assert_eq!(until, Some(""));
    }
}
