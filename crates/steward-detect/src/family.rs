//! A process family's tally over the window: what it damaged, deleted, wrote, renamed and
//! left as notes, kept bounded, and the matching of copies to the originals they replace.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::content;
use crate::detector::{MAX_DELETIONS, MAX_RECENT, MAX_TOUCHED, RATE_WINDOW_MS, Touched};
use crate::event::{FileEvent, Op};
use crate::signals;

#[derive(Debug, Default)]
pub(crate) struct Family {
    pub(crate) members: Vec<u32>,
    pub(crate) last_at: u64,
    pub(crate) first_at: Option<u64>,
    pub(crate) damaged: VecDeque<(u64, String)>,
    pub(crate) notes: VecDeque<(u64, String)>,
    pub(crate) foreign_renames: VecDeque<u64>,
    pub(crate) replaced: VecDeque<u64>,
    /// Files changed within [`RATE_WINDOW_MS`] (a hash of the path), oldest first, and how
    /// many times each is in it: the number of distinct files is the map's length.
    pub(crate) changes: VecDeque<(u64, u64)>,
    pub(crate) changed: HashMap<u64, u32>,
    /// Files the family wrote: (time, folder, name, random without a promise).
    pub(crate) writes: VecDeque<(u64, String, String, bool)>,
    /// Files with a promise the family deleted with no copy written beside them first.
    /// A sensor may report a delete before the write that preceded it (the agent's older
    /// two-queue sensor did; a recorded or foreign trace may): a random copy that shows up
    /// just "after" still makes the delete damage, and a readable one (gzip's `.gz`) takes
    /// the delete off the list.
    pub(crate) deleted: VecDeque<Deleted>,
    /// What [`Family::deleted`] and [`Family::writes`] may hold, as hashes of a folder and
    /// a name or a name's stem ([`key`]): a superset (kept when entries leave, rebuilt when
    /// it grows past a few times the lists' bounds). A busy family (a checkout, a package
    /// upgrade) writes into folders where it deleted hundreds of files; the lists are
    /// scanned only when these say a match may be there.
    maybe: HashSet<u64>,
    pub(crate) lineage: Option<String>,
    pub(crate) touched: Vec<Touched>,
    /// The first detail of each signal, for the verdict.
    pub(crate) details: HashMap<&'static str, String>,
    pub(crate) verdict_given: bool,
}

/// A delete not (yet) matched with a copy.
#[derive(Debug)]
pub(crate) struct Deleted {
    pub(crate) at: u64,
    pub(crate) folder: String,
    pub(crate) name: String,
    /// A document a person made (what mass deletion counts).
    pub(crate) document: bool,
}

/// How long a delete waits for its copy before it counts towards mass deletion (a sensor
/// that reports the two out of order may have them this far apart under load).
pub const DELETE_GRACE_MS: u64 = 1_000;

/// What one event did.
#[derive(Debug, Default)]
pub(crate) struct Assessment {
    pub(crate) damaged: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) note: bool,
    pub(crate) foreign_rename: bool,
    pub(crate) random_unknown: bool,
    /// A write whose content keeps its name's promise.
    pub(crate) readable: bool,
    pub(crate) deleted_document: bool,
    pub(crate) deleted_promised: bool,
}

impl Family {
    /// Whether the family did, within the window, what starts a verdict: damaged a file,
    /// left a ransom note, renamed to a foreign extension, or replaced an original by a
    /// random copy.
    pub(crate) fn alarming(&self) -> bool {
        !self.damaged.is_empty()
            || !self.notes.is_empty()
            || !self.foreign_renames.is_empty()
            || !self.replaced.is_empty()
    }

    pub(crate) fn prune(&mut self, now: u64, window: u64) {
        let old = |at: u64| now.saturating_sub(at) > window;
        while self.damaged.front().is_some_and(|(at, _)| old(*at)) {
            self.damaged.pop_front();
        }
        while self.notes.front().is_some_and(|(at, _)| old(*at)) {
            self.notes.pop_front();
        }
        while self.foreign_renames.front().is_some_and(|at| old(*at)) {
            self.foreign_renames.pop_front();
        }
        while self.replaced.front().is_some_and(|at| old(*at)) {
            self.replaced.pop_front();
        }
        while self.deleted.front().is_some_and(|d| old(d.at)) {
            self.deleted.pop_front();
        }
        while self.writes.front().is_some_and(|(at, _, _, _)| old(*at)) {
            self.writes.pop_front();
        }
        while self
            .changes
            .front()
            .is_some_and(|(at, _)| now.saturating_sub(*at) > RATE_WINDOW_MS)
        {
            self.forget_oldest_change();
        }
    }

    fn forget_oldest_change(&mut self) {
        if let Some((_, path)) = self.changes.pop_front()
            && let Some(n) = self.changed.get_mut(&path)
        {
            *n -= 1;
            if *n == 0 {
                self.changed.remove(&path);
            }
        }
    }

    pub(crate) fn record(&mut self, e: &FileEvent, a: &Assessment) {
        let at = e.at_ms;
        let mut damaged = a.damaged.clone();
        if e.op == Op::Write
            && a.random_unknown
            && damaged.is_none()
            && let Some(original) = self.deleted_original_of(&e.path)
        {
            self.replaced.push_back(at);
            self.details
                .entry(signals::REPLACED_ORIGINALS)
                .or_insert_with(|| {
                    format!("{original} deleted and a random copy written beside it")
                });
            damaged = Some(original);
        }
        if e.op == Op::Write && a.readable {
            // A readable copy of a file deleted just "before" (the queues' order): moved.
            let _ = self.deleted_original_of(&e.path);
        }
        // A file created again where it was deleted, or renamed onto that name, is back: a
        // checkout or an editor's save replaces files this way, and the new content is
        // judged on its own.
        match e.op {
            Op::Create | Op::Write => self.restored(&e.path),
            Op::Rename => {
                if let Some(to) = &e.to {
                    self.restored(to);
                }
            }
            Op::Delete => {}
        }
        if e.op == Op::Write {
            let name = content::file_name(&e.path).to_string();
            let folder = content::parent(&e.path).to_string();
            for stem in stems_of(&name) {
                self.maybe.insert(key(&folder, stem, Part::WrittenStem));
            }
            self.writes.push_back((at, folder, name, a.random_unknown));
            if self.writes.len() > MAX_RECENT {
                self.writes.pop_front();
            }
        }
        if e.op == Op::Delete {
            let copy = self.copy_of(&e.path);
            if a.deleted_promised && copy == Some(true) {
                self.replaced.push_back(at);
                damaged = Some(e.path.clone());
                self.details
                    .entry(signals::REPLACED_ORIGINALS)
                    .or_insert_with(|| {
                        format!(
                            "{} deleted after a random copy was written beside it",
                            e.path
                        )
                    });
            } else if (a.deleted_promised || a.deleted_document) && copy.is_none() {
                // With a readable copy written first (gzip, a converter) it was moved, not
                // destroyed; without one it may yet be matched, else it counts towards
                // mass deletion.
                let deleted = Deleted {
                    at,
                    folder: content::parent(&e.path).to_string(),
                    name: content::file_name(&e.path).to_string(),
                    document: a.deleted_document,
                };
                self.remember_deleted(&deleted);
                self.deleted.push_back(deleted);
                if self.deleted.len() > MAX_DELETIONS {
                    self.deleted.pop_front();
                }
            }
        }
        if a.note {
            let path = e.to.as_deref().unwrap_or(&e.path);
            self.notes
                .push_back((at, content::parent(path).to_string()));
            self.details
                .entry(signals::RANSOM_NOTES)
                .or_insert_with(|| path.to_string());
        }
        if a.foreign_rename {
            self.foreign_renames.push_back(at);
            self.details
                .entry(signals::FOREIGN_RENAMES)
                .or_insert_with(|| format!("{} → {}", e.path, e.to.as_deref().unwrap_or("")));
        }
        if let Some(lineage) = &self.lineage {
            self.details
                .entry(signals::LINEAGE)
                .or_insert_with(|| lineage.clone());
        }
        let already = damaged
            .as_ref()
            .is_some_and(|p| self.damaged.iter().any(|(_, d)| d == p));
        if let Some(path) = &damaged
            && !already
        {
            self.damaged.push_back((at, path.clone()));
            if let Some(detail) = &a.detail {
                self.details
                    .entry(signals::CONTENT_MISMATCH)
                    .or_insert_with(|| detail.clone());
            }
        }
        let hashed = path_hash(&e.path);
        self.changes.push_back((at, hashed));
        *self.changed.entry(hashed).or_default() += 1;
        if self.changes.len() > MAX_RECENT {
            self.forget_oldest_change();
        }
        if self.touched.len() < MAX_TOUCHED {
            self.touched.push(Touched {
                at_ms: at,
                op: e.op,
                path: e.path.clone(),
                to: e.to.clone(),
                damaged: damaged.is_some() && !already,
            });
        }
    }

    fn remember_deleted(&mut self, d: &Deleted) {
        self.maybe
            .insert(key(&d.folder, &d.name, Part::DeletedName));
        self.maybe
            .insert(key(&d.folder, stem(&d.name), Part::DeletedStem));
        self.bound_maybe();
    }

    /// Rebuilds [`Family::maybe`] from the lists once entries that left them make up most
    /// of it.
    fn bound_maybe(&mut self) {
        if self.maybe.len() <= 4 * (MAX_DELETIONS + MAX_RECENT) {
            return;
        }
        let mut maybe = HashSet::new();
        for d in &self.deleted {
            maybe.insert(key(&d.folder, &d.name, Part::DeletedName));
            maybe.insert(key(&d.folder, stem(&d.name), Part::DeletedStem));
        }
        for (_, folder, name, _) in &self.writes {
            for s in stems_of(name) {
                maybe.insert(key(folder, s, Part::WrittenStem));
            }
        }
        self.maybe = maybe;
    }

    /// Forgets the pending deletions of `path`: a file is there again under that name.
    fn restored(&mut self, path: &str) {
        if self.deleted.is_empty() {
            return;
        }
        let folder = content::parent(path);
        let name = content::file_name(path);
        if !self.maybe.contains(&key(folder, name, Part::DeletedName)) {
            return;
        }
        // Names first: they differ early, where a busy folder's path is compared whole.
        self.deleted
            .retain(|d| !(d.name == name && d.folder == folder));
    }

    /// Documents deleted at least [`DELETE_GRACE_MS`] before `now` with no copy beside them.
    pub(crate) fn unmatched_deletions(&self, now: u64) -> usize {
        self.deleted
            .iter()
            .filter(|d| d.document && now.saturating_sub(d.at) >= DELETE_GRACE_MS)
            .count()
    }

    /// The original a copy at `path` is named after, among the files the family deleted
    /// lately in the same folder (taken from the list: counted once).
    pub(crate) fn deleted_original_of(&mut self, path: &str) -> Option<String> {
        let folder = content::parent(path);
        let written = content::file_name(path);
        // An original it is named after has the stem of one of its prefixes that end
        // before a dot (`offer` of `offer.docx.enc`).
        if !stems_of(written).any(|s| self.maybe.contains(&key(folder, s, Part::DeletedStem))) {
            return None;
        }
        let i = self
            .deleted
            .iter()
            .rposition(|d| named_after(written, &d.name) && d.folder == folder)?;
        let d = self.deleted.remove(i)?;
        Some(if d.folder == "/" {
            format!("/{}", d.name)
        } else {
            format!("{}/{}", d.folder, d.name)
        })
    }

    /// Whether the family wrote, in the same folder, a copy named after `path`
    /// (`offer.docx` → `offer.docx.enc`, `offer.docx.gz`, `offer.enc`): `Some(true)` when
    /// that copy is random bytes without a promise, `Some(false)` when readable, `None`
    /// when there is none.
    pub(crate) fn copy_of(&self, path: &str) -> Option<bool> {
        let folder = content::parent(path);
        let name = content::file_name(path);
        if !self
            .maybe
            .contains(&key(folder, stem(name), Part::WrittenStem))
        {
            return None;
        }
        self.writes
            .iter()
            .rev()
            .find(|(_, dir, written, _)| named_after(written, name) && dir == folder)
            .map(|(_, _, _, random)| *random)
    }
}

/// The name without its last extension (`offer.docx` of `offer.docx.enc`; the name itself
/// when it has none).
fn stem(name: &str) -> &str {
    name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name)
}

/// Every prefix of `name` that ends right before a dot: the stems of the originals it may
/// be [`named_after`] (`offer`, `offer.docx` of `offer.docx.enc`).
fn stems_of(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.').map(move |(i, _)| &name[..i])
}

/// What a [`key`] was made of.
#[derive(Clone, Copy)]
enum Part {
    DeletedName,
    DeletedStem,
    WrittenStem,
}

fn key(folder: &str, part: &str, kind: Part) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
    let mut h = BuildHasherDefault::<DefaultHasher>::default().build_hasher();
    folder.hash(&mut h);
    part.hash(&mut h);
    (kind as u8).hash(&mut h);
    h.finish()
}

/// Whether a written file's name is a copy of `original`'s (`offer.docx.enc`,
/// `offer.docx.gz`, `offer.enc` of `offer.docx`).
fn named_after(written: &str, original: &str) -> bool {
    let stem = stem(original);
    written != original
        && (written.starts_with(original)
            || written.len() > stem.len() + 1
                && written.starts_with(stem)
                && written.as_bytes()[stem.len()] == b'.')
}

fn path_hash(path: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(path)
}
