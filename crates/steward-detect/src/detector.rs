//! The detector: scores each process family over a sliding window and gives a verdict.
//!
//! A *family* is a process and the workers it started: events of a child count towards its
//! parent, unless the parent is a shell or session (whose children are a person's separate
//! commands). An attack split over several worker processes is scored as one.
//!
//! What counts, per family, within the window:
//! - **damage**: a file whose content no longer keeps its name's promise after the family
//!   wrote or renamed it ([`crate::content::judge`]), whose regions turned random where they
//!   were not, whose magic bytes are gone, or an original deleted after the family wrote a
//!   random copy of it beside it;
//! - **corroboration**: ransom-note names, renames to an extension no program reads with
//!   random content, originals replaced by random copies, a high rate of distinct files
//!   changed, a shell or interpreter under an office or mail program.
//!
//! A verdict is given when damage is high on its own, or damage and corroboration meet
//! (see [`Detector::judge_family`]); a canary touched gives one at once; notes in several
//! folders give one before anything is encrypted. Benign work damages nothing: compression
//! and backups write new files whose content matches their names; package managers and
//! editors replace files with readable content.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::Event;
use crate::content::{self, Expect, Judged};
use crate::event::{FileEvent, Op, ProcessInfo};
use crate::family::{Assessment, Family};
use crate::lineage::{is_office_or_mail, is_shell_or_interpreter, is_shell_or_session};
use crate::notes::is_ransom_note;
use crate::sample::Sample;
use crate::signals::{self, Fired};

/// Most files a verdict names.
pub const MAX_TOUCHED: usize = 200;
/// Most processes and families remembered; the least recently active are forgotten first.
pub const MAX_PROCESSES: usize = 4096;
pub const MAX_FAMILIES: usize = 256;
/// Most file contents remembered (for "its regions turned random" and "its magic is gone"
/// when the name promises nothing).
pub const MAX_KNOWN_FILES: usize = 4096;
/// Most members named in a family.
const MAX_MEMBERS: usize = 64;
/// Most recent changes, random writes and deletions a family keeps: more than any
/// threshold needs, few enough that a busy machine's families stay small.
pub(crate) const MAX_RECENT: usize = 256;
pub(crate) const MAX_DELETIONS: usize = 1024;

/// How the detector is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The canary files' paths: touching one is decisive.
    pub canaries: Vec<String>,
    /// The sliding window, in milliseconds.
    pub window_ms: u64,
    /// Pids whose events are ignored (the agent itself).
    pub ignore_pids: Vec<u32>,
    /// Files damaged in the window that give a verdict on their own.
    pub damage_alone: usize,
    /// Files damaged that give a verdict with one corroborating signal.
    pub damage_corroborated: usize,
    /// Distinct files changed within [`RATE_WINDOW_MS`] that corroborate.
    pub rate: usize,
    /// Documents deleted in the window (not replaced) that make mass deletion.
    pub mass_deletion: usize,
    /// Folders given a ransom note that give a verdict on their own.
    pub note_folders: usize,
}

/// The span over which the rate of distinct files changed is counted.
pub const RATE_WINDOW_MS: u64 = 10_000;

impl Default for Config {
    fn default() -> Self {
        Config {
            canaries: Vec::new(),
            window_ms: 60_000,
            ignore_pids: Vec::new(),
            damage_alone: 4,
            damage_corroborated: 2,
            rate: 30,
            mass_deletion: 200,
            note_folders: 3,
        }
    }
}

/// What the detector concluded about a process family.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The offending process: the family's head (for an attack by several workers, their
    /// parent).
    pub pid: u32,
    /// Every process of the family seen so far, the head first.
    pub pids: Vec<u32>,
    /// The head's process information, when the sensor gave it.
    pub process: Option<ProcessInfo>,
    pub at_ms: u64,
    pub signals: Vec<Fired>,
    /// The files touched, in order, at most [`MAX_TOUCHED`].
    pub files: Vec<Touched>,
    /// Files whose content was destroyed, as judged, when the verdict was given.
    pub damaged: usize,
    /// One line for people.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Ransomware,
    MassDeletion,
}

/// One file a process touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Touched {
    pub at_ms: u64,
    pub op: Op,
    pub path: String,
    pub to: Option<String>,
    /// Whether this operation destroyed the file's content as the detector judges it.
    pub damaged: bool,
}

/// What the detector remembers of a file's content.
#[derive(Debug, Clone, Copy)]
struct Known {
    magic: Option<&'static str>,
    /// Bit i: region i was not random.
    calm: u8,
}

/// Scores processes from their file events.
pub struct Detector {
    config: Config,
    canaries: HashSet<String>,
    processes: HashMap<u32, ProcessInfo>,
    process_order: VecDeque<u32>,
    families: HashMap<u32, Family>,
    known: HashMap<String, Known>,
    known_order: VecDeque<String>,
    /// Files renamed away from a name that promised something: new path → original path,
    /// so a write under the new name (`offer.docx.locked`) is judged by the old promise.
    renamed: HashMap<String, String>,
    renamed_order: VecDeque<String>,
    /// When the last event that could start a verdict came (a damaged file, a ransom note,
    /// a rename to a foreign extension, a canary): see [`Detector::concerned`].
    last_concern_ms: Option<u64>,
    /// When the newest family made its first file event.
    newest_family_ms: Option<u64>,
}

/// How long after an event of concern the detector stays [`Detector::concerned`].
pub const CONCERN_MS: u64 = 10_000;
/// How long after a family's first file event the detector stays [`Detector::concerned`]:
/// a new writer is read at once until it has shown what it does (an attack at full speed
/// damages its first files within a millisecond or two).
pub const NEW_FAMILY_MS: u64 = 20;

impl Detector {
    pub fn new(config: Config) -> Detector {
        Detector {
            canaries: config.canaries.iter().cloned().collect(),
            config,
            processes: HashMap::new(),
            process_order: VecDeque::new(),
            families: HashMap::new(),
            known: HashMap::new(),
            known_order: VecDeque::new(),
            renamed: HashMap::new(),
            renamed_order: VecDeque::new(),
            last_concern_ms: None,
            newest_family_ms: None,
        }
    }

    /// Whether an event that could lead to a verdict came within [`CONCERN_MS`] of
    /// `now_ms`, or a new family began writing within [`NEW_FAMILY_MS`]. The agent's
    /// engine reads the sensor at once while concerned; otherwise it may let events gather
    /// for a moment between reads, which costs a burst of benign writes a few wake-ups
    /// instead of one per file, and an attack at most that moment: a new process is read at
    /// once, and its first damaged file makes the detector concerned.
    pub fn concerned(&self, now_ms: u64) -> bool {
        let within =
            |at: Option<u64>, span: u64| at.is_some_and(|at| now_ms.saturating_sub(at) < span);
        within(self.last_concern_ms, CONCERN_MS) || within(self.newest_family_ms, NEW_FAMILY_MS)
    }

    /// Replaces the canary list (the agent re-places canaries when its policy changes).
    pub fn set_canaries(&mut self, canaries: Vec<String>) {
        self.canaries = canaries.iter().cloned().collect();
        self.config.canaries = canaries;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one event; a verdict when this event tipped a family over. A family is given
    /// at most one verdict until it is [`Detector::forget`]ten.
    pub fn feed(&mut self, event: &Event) -> Option<Verdict> {
        match event {
            Event::Process(info) => {
                self.remember_process(info.clone());
                None
            }
            Event::File(file) => self.feed_file(file),
        }
    }

    /// Judges again what waits on time alone (deletions past their grace): called by the
    /// sensor's reader between reads, with the sensor's clock.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Verdict> {
        let waiting: Vec<u32> = self
            .families
            .iter()
            .filter(|(_, f)| !f.verdict_given && f.deleted.iter().any(|d| d.document))
            .map(|(k, _)| *k)
            .collect();
        waiting
            .into_iter()
            .filter_map(|key| self.judge_family(key, now_ms, false))
            .collect()
    }

    /// Forgets a process and the family it heads (it exited, or a person decided).
    pub fn forget(&mut self, pid: u32) {
        self.processes.remove(&pid);
        self.families.remove(&pid);
    }

    /// How many families are being scored (for the agent's own figures).
    pub fn families(&self) -> usize {
        self.families.len()
    }

    fn remember_process(&mut self, info: ProcessInfo) {
        if self.processes.insert(info.pid, info.clone()).is_none() {
            self.process_order.push_back(info.pid);
        }
        while self.processes.len() > MAX_PROCESSES {
            match self.process_order.pop_front() {
                Some(old) => {
                    self.processes.remove(&old);
                }
                None => break,
            }
        }
    }

    /// The family a process belongs to: its parent's, unless the parent is a shell, a
    /// session or the agent itself.
    fn family_of(&self, pid: u32) -> u32 {
        let Some(info) = self.processes.get(&pid) else {
            return pid;
        };
        let parent_name = info.ancestors.first().map(String::as_str).unwrap_or("");
        if info.ppid <= 1
            || self.config.ignore_pids.contains(&info.ppid)
            || is_shell_or_session(parent_name)
        {
            pid
        } else {
            info.ppid
        }
    }

    fn feed_file(&mut self, e: &FileEvent) -> Option<Verdict> {
        if self.config.ignore_pids.contains(&e.pid) {
            return None;
        }
        let canary = self.canaries.contains(&e.path)
            || e.to.as_ref().is_some_and(|to| self.canaries.contains(to));
        let key = self.family_of(e.pid);
        let lineage = self.lineage_of(e.pid);
        let window = self.config.window_ms;
        let assessment = self.assess(e);
        let family = self.families.entry(key).or_default();
        if family.verdict_given {
            return None;
        }
        if !family.members.contains(&e.pid) && family.members.len() < MAX_MEMBERS {
            family.members.push(e.pid);
        }
        family.last_at = e.at_ms;
        if family.first_at.is_none() {
            self.newest_family_ms = Some(e.at_ms);
        }
        family.first_at.get_or_insert(e.at_ms);
        if family.lineage.is_none() {
            family.lineage = lineage;
        }
        family.prune(e.at_ms, window);
        family.record(e, &assessment);
        // Random content under a name that promises nothing is no concern alone: git's
        // objects and backup tools' packs are that by the thousand; the attack that writes
        // such copies concerns the detector when it deletes the first original.
        if canary || family.alarming() {
            self.last_concern_ms = Some(e.at_ms);
        }
        if canary {
            family
                .details
                .entry(signals::CANARY)
                .or_insert_with(|| format!("{} touched ({})", e.path, op_word(e.op)));
        }
        let verdict = self.judge_family(key, e.at_ms, canary);
        self.evict_families();
        verdict
    }

    /// What one event did, judged before it is recorded.
    fn assess(&mut self, e: &FileEvent) -> Assessment {
        let mut a = Assessment::default();
        match e.op {
            Op::Create => {
                a.note = is_ransom_note(&e.path);
            }
            Op::Write => {
                if let Some(sample) = &e.sample {
                    // Under a name it was given by a rename, a file keeps its first promise.
                    let original = self.renamed.get(&e.path).cloned();
                    let promised = original.as_deref().unwrap_or(&e.path);
                    let judged = content::judge(promised, sample);
                    let former = self.lost_former_content(&e.path, sample);
                    a.readable = judged == Judged::Fits && former.is_none();
                    if judged.broken() || former.is_some() {
                        a.damaged = Some(promised.to_string());
                        a.detail = Some(describe_damage(promised, &judged, former, sample));
                        a.foreign_rename =
                            original.is_some() && content::expect(&e.path) == Expect::Unknown;
                    }
                    a.random_unknown = original.is_none() && judged == Judged::RandomUnknown;
                    self.remember_content(&e.path, sample);
                }
            }
            Op::Rename => {
                let to = e.to.as_deref().unwrap_or("");
                a.note = is_ransom_note(to);
                let from_promise = content::expect(&e.path);
                if let Some(sample) = &e.sample
                    && !content::is_temporary(&e.path)
                    && from_promise != Expect::Unknown
                {
                    // Judged against what the original name promised: its content is
                    // what now sits under the new name.
                    let judged = content::judge(&e.path, sample);
                    if judged.broken() {
                        a.damaged = Some(e.path.clone());
                        a.detail = Some(describe_damage(&e.path, &judged, None, sample));
                        if content::expect(to) == Expect::Unknown {
                            a.foreign_rename = true;
                        }
                    }
                }
                if let Some(known) = self.known.remove(&e.path) {
                    self.insert_known(to.to_string(), known);
                }
                let original = self
                    .renamed
                    .remove(&e.path)
                    .unwrap_or_else(|| e.path.clone());
                if !content::is_temporary(&original)
                    && content::expect(&original) != Expect::Unknown
                    && content::expect(to) != content::expect(&original)
                {
                    self.insert_renamed(to.to_string(), original);
                }
            }
            Op::Delete => {
                a.deleted_document =
                    content::is_document(&e.path) && !content::is_temporary(&e.path);
                a.deleted_promised =
                    content::expect(&e.path) != Expect::Unknown && !content::is_temporary(&e.path);
                self.known.remove(&e.path);
            }
        }
        a
    }

    /// Whether a file the detector saw before lost what it had: its magic bytes, or the
    /// calm (non-random) content of a region. Returns what was lost.
    fn lost_former_content(&self, path: &str, sample: &Sample) -> Option<String> {
        let known = self.known.get(path)?;
        let random = content::random_regions(sample);
        if let Some(magic) = known.magic
            && content::sniff(&sample.head).is_none()
            && random.iter().any(|r| *r)
        {
            return Some(format!("was a {magic}"));
        }
        let turned = random
            .iter()
            .enumerate()
            .filter(|(i, r)| **r && *i < 8 && known.calm & (1 << i) != 0)
            .count();
        (turned > 0 && content::sniff(&sample.head).is_none())
            .then(|| format!("{turned} regions turned random"))
    }

    fn remember_content(&mut self, path: &str, sample: &Sample) {
        let random = content::random_regions(sample);
        let calm = random
            .iter()
            .enumerate()
            .filter(|(i, r)| !**r && *i < 8)
            .fold(0u8, |acc, (i, _)| acc | (1 << i));
        let known = Known {
            magic: content::sniff(&sample.head),
            calm,
        };
        self.insert_known(path.to_string(), known);
    }

    fn insert_known(&mut self, path: String, known: Known) {
        if self.known.insert(path.clone(), known).is_none() {
            self.known_order.push_back(path);
        }
        while self.known.len() > MAX_KNOWN_FILES {
            match self.known_order.pop_front() {
                Some(old) => {
                    self.known.remove(&old);
                }
                None => break,
            }
        }
        // Paths removed by renames and deletes stay in the order list; keep it bounded.
        if self.known_order.len() > 2 * MAX_KNOWN_FILES {
            let known = &self.known;
            self.known_order.retain(|p| known.contains_key(p));
        }
    }

    fn insert_renamed(&mut self, to: String, original: String) {
        if self.renamed.insert(to.clone(), original).is_none() {
            self.renamed_order.push_back(to);
        }
        while self.renamed.len() > MAX_KNOWN_FILES {
            match self.renamed_order.pop_front() {
                Some(old) => {
                    self.renamed.remove(&old);
                }
                None => break,
            }
        }
        if self.renamed_order.len() > 2 * MAX_KNOWN_FILES {
            let renamed = &self.renamed;
            self.renamed_order.retain(|p| renamed.contains_key(p));
        }
    }

    fn lineage_of(&self, pid: u32) -> Option<String> {
        let info = self.processes.get(&pid)?;
        if !is_shell_or_interpreter(&info.name) {
            return None;
        }
        let office = info.ancestors.iter().find(|a| is_office_or_mail(a))?;
        Some(format!("{} started under {office}", info.name))
    }

    /// Gives the verdict if the family's signals meet.
    fn judge_family(&mut self, key: u32, now: u64, canary: bool) -> Option<Verdict> {
        let config = &self.config;
        let family = self.families.get(&key)?;
        let damaged = family.damaged.len();
        let note_folders: HashSet<&str> = family.notes.iter().map(|(_, d)| d.as_str()).collect();
        let rate = family.changed.len();
        let corroborations = [
            !note_folders.is_empty(),
            !family.foreign_renames.is_empty(),
            !family.replaced.is_empty(),
            family.lineage.is_some(),
            rate >= config.rate.min(MAX_RECENT),
        ]
        .iter()
        .filter(|c| **c)
        .count();
        let ransomware = canary
            || damaged >= config.damage_alone
            || damaged >= config.damage_corroborated && corroborations >= 1
            || note_folders.len() >= config.note_folders;
        let deletions = family.unmatched_deletions(now);
        let mass_deletion = deletions >= config.mass_deletion.min(MAX_DELETIONS);
        if !ransomware && !mass_deletion {
            return None;
        }
        let kind = if ransomware {
            VerdictKind::Ransomware
        } else {
            VerdictKind::MassDeletion
        };
        let detail = |name: &'static str| family.details.get(name).cloned().unwrap_or_default();
        let mut fired = Vec::new();
        let mut fire = |name: &'static str, value: usize| {
            if value > 0 {
                fired.push(Fired {
                    name,
                    value: value as f64,
                    detail: detail(name),
                });
            }
        };
        fire(signals::CANARY, canary as usize);
        fire(signals::CONTENT_MISMATCH, damaged);
        fire(signals::RANSOM_NOTES, note_folders.len());
        fire(signals::FOREIGN_RENAMES, family.foreign_renames.len());
        fire(signals::REPLACED_ORIGINALS, family.replaced.len());
        fire(signals::LINEAGE, family.lineage.is_some() as usize);
        fire(signals::DISTINCT_FILES, rate);
        fire(signals::DELETIONS, deletions);

        let process = self.processes.get(&key).cloned();
        // A parent that wrote nothing itself was never announced: its workers name it.
        let name = process
            .as_ref()
            .map(|p| p.name.clone())
            .or_else(|| {
                family
                    .members
                    .iter()
                    .filter_map(|m| self.processes.get(m))
                    .find(|p| p.ppid == key)
                    .and_then(|p| p.ancestors.first().cloned())
            })
            .unwrap_or_else(|| "unknown process".into());
        let secs = now.saturating_sub(family.first_at.unwrap_or(now)) as f64 / 1000.0;
        let what = if canary {
            format!("touched a canary file ({})", detail(signals::CANARY))
        } else if kind == VerdictKind::MassDeletion {
            format!("deleted {deletions} documents")
        } else if damaged == 0 {
            format!("left ransom notes in {} folders", note_folders.len())
        } else {
            format!("destroyed the content of {damaged} files")
        };
        let workers = if family.members.len() > 1 {
            format!(" with {} worker processes", family.members.len() - 1)
        } else {
            String::new()
        };
        let summary = format!("{name} (pid {key}){workers} {what} in {secs:.1} s");
        let mut pids = vec![key];
        pids.extend(family.members.iter().filter(|p| **p != key));
        let verdict = Verdict {
            kind,
            pid: key,
            pids,
            process,
            at_ms: now,
            signals: fired,
            files: family.touched.clone(),
            damaged,
            summary,
        };
        if let Some(f) = self.families.get_mut(&key) {
            f.verdict_given = true;
        }
        Some(verdict)
    }

    fn evict_families(&mut self) {
        if self.families.len() <= MAX_FAMILIES {
            return;
        }
        // Forget the least recently active tenth, never a family with a verdict pending
        // a person's decision (those are few: one per attack).
        let mut by_age: Vec<(u64, u32)> = self
            .families
            .iter()
            .filter(|(_, f)| !f.verdict_given)
            .map(|(k, f)| (f.last_at, *k))
            .collect();
        by_age.sort_unstable();
        for (_, key) in by_age.into_iter().take(MAX_FAMILIES / 10) {
            self.families.remove(&key);
        }
    }
}

fn describe_damage(path: &str, judged: &Judged, former: Option<String>, sample: &Sample) -> String {
    let name = content::file_name(path);
    let max = sample.entropy.iter().cloned().fold(0.0f32, f32::max);
    match (judged, former) {
        (Judged::LostMagic { format }, _) => {
            format!("{name}: no longer a {format}, entropy {max:.2}")
        }
        (Judged::NotText { regions, of }, _) => {
            format!("{name}: text turned random in {regions} of {of} regions, entropy {max:.2}")
        }
        (_, Some(former)) => format!("{name}: {former}, entropy {max:.2}"),
        _ => format!("{name}: content destroyed"),
    }
}

fn op_word(op: Op) -> &'static str {
    match op {
        Op::Create => "created",
        Op::Write => "written",
        Op::Rename => "renamed",
        Op::Delete => "deleted",
    }
}
