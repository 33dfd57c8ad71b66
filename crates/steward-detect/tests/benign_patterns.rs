//! The patterns of benign work that look most like an attack, as a sensor reports them,
//! raise no verdict: compressing files in place (a readable copy, then the original
//! deleted), log rotation, a package manager's `.dpkg-new` renames, an editor's saves, a
//! backup tool writing random packs without names that promise anything, many files
//! deleted by a cleanup that are no documents.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use steward_detect::{Config, Detector, Event, FileEvent, Op, ProcessInfo, Sample};

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn with_head(head: &[u8], n: usize, seed: u64) -> Sample {
    let mut bytes = head.to_vec();
    bytes.extend(noise(n, seed));
    Sample::of_bytes(&bytes)
}

fn text(n: usize) -> Sample {
    Sample::of_bytes(
        "log line: order 42 shipped to the customer\n"
            .repeat(n / 40)
            .as_bytes(),
    )
}

struct Trace {
    pid: u32,
    at: u64,
    events: Vec<Event>,
}

impl Trace {
    fn new(pid: u32, name: &str) -> Trace {
        Trace {
            pid,
            at: 0,
            events: vec![Event::Process(ProcessInfo {
                pid,
                ppid: 1,
                name: name.into(),
                exe: format!("/usr/bin/{name}"),
                uid: 0,
                ancestors: vec!["systemd".into()],
            })],
        }
    }

    fn op(&mut self, op: Op, path: &str, to: Option<&str>, sample: Option<Sample>) {
        self.at += 1;
        self.events.push(Event::File(FileEvent {
            at_ms: self.at,
            pid: self.pid,
            op,
            path: path.into(),
            to: to.map(String::from),
            sample,
        }));
    }
}

/// Every verdict the events give, and those time alone gives two seconds after the last.
fn verdicts(events: &[Event]) -> Vec<String> {
    let mut detector = Detector::new(Config::default());
    let mut found: Vec<String> = events
        .iter()
        .filter_map(|e| detector.feed(e))
        .map(|v| v.summary)
        .collect();
    let last = events
        .iter()
        .filter_map(|e| match e {
            Event::File(f) => Some(f.at_ms),
            Event::Process(_) => None,
        })
        .max()
        .unwrap_or(0);
    found.extend(detector.tick(last + 2_000).into_iter().map(|v| v.summary));
    found
}

#[test]
fn gzip_in_place_of_documents_is_no_attack() {
    let mut t = Trace::new(100, "gzip");
    for i in 0..400 {
        let original = format!("/srv/share/docs/report {i}.docx");
        let gz = format!("{original}.gz");
        t.op(Op::Create, &gz, None, None);
        t.op(
            Op::Write,
            &gz,
            None,
            Some(with_head(b"\x1F\x8B\x08\x00", 30_000, i)),
        );
        t.op(Op::Delete, &original, None, None);
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn gzip_in_place_is_no_attack_when_the_deletes_are_reported_before_the_copies() {
    // A sensor with two queues (the agent's before 2026-11-30): a batch of deletes may
    // come before the writes that preceded them.
    let mut t = Trace::new(107, "gzip");
    for i in 0..400 {
        t.op(
            Op::Delete,
            &format!("/srv/share/docs/scan {i}.pdf"),
            None,
            None,
        );
    }
    for i in 0..400 {
        let gz = format!("/srv/share/docs/scan {i}.pdf.gz");
        t.op(
            Op::Write,
            &gz,
            None,
            Some(with_head(b"\x1F\x8B\x08\x00", 30_000, i)),
        );
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn log_rotation_is_no_attack() {
    let mut t = Trace::new(101, "logrotate");
    for i in 0..100 {
        let dir = format!("/srv/www/logs/site{i}");
        t.op(
            Op::Rename,
            &format!("{dir}/access.log"),
            Some(&format!("{dir}/access.log.1")),
            Some(text(50_000)),
        );
        t.op(Op::Create, &format!("{dir}/access.log"), None, None);
        t.op(Op::Create, &format!("{dir}/access.log.2.gz"), None, None);
        t.op(
            Op::Write,
            &format!("{dir}/access.log.2.gz"),
            None,
            Some(with_head(b"\x1F\x8B\x08\x00", 9_000, i)),
        );
        t.op(Op::Delete, &format!("{dir}/access.log.2"), None, None);
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn a_package_managers_renames_over_existing_files_are_no_attack() {
    let mut t = Trace::new(102, "dpkg");
    for i in 0..500 {
        let path = format!("/srv/app/lib/module{i}.so");
        let new = format!("{path}.dpkg-new");
        t.op(Op::Create, &new, None, None);
        t.op(
            Op::Write,
            &new,
            None,
            Some(with_head(b"\x7FELF\x02\x01\x01", 40_000, i)),
        );
        t.op(
            Op::Rename,
            &new,
            Some(&path),
            Some(with_head(b"\x7FELF\x02\x01\x01", 40_000, i)),
        );
        let doc = format!("/srv/app/share/doc{i}.txt.gz");
        t.op(
            Op::Write,
            &doc,
            None,
            Some(with_head(b"\x1F\x8B\x08\x00", 3_000, i)),
        );
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn an_editor_saving_through_temporary_files_is_no_attack() {
    let mut t = Trace::new(103, "soffice.bin");
    for i in 0..300 {
        let path = format!("/home/anna/Documents/offer {i}.docx");
        let tmp = format!("/home/anna/Documents/lu{i}.tmp");
        t.op(Op::Create, &tmp, None, None);
        t.op(
            Op::Write,
            &tmp,
            None,
            Some(with_head(b"PK\x03\x04", 20_000, i)),
        );
        t.op(
            Op::Rename,
            &tmp,
            Some(&path),
            Some(with_head(b"PK\x03\x04", 20_000, i)),
        );
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn a_backup_tool_writing_random_packs_is_no_attack() {
    let mut t = Trace::new(104, "restic");
    for i in 0..1000 {
        let pack = format!("/srv/backup/repo/data/{:02x}/{:064x}", i % 256, i * 7919);
        t.op(Op::Create, &pack, None, None);
        t.op(
            Op::Write,
            &pack,
            None,
            Some(Sample::of_bytes(&noise(4 << 20 >> 6, i))),
        );
    }
    for i in 0..300 {
        let pack = format!("/srv/backup/repo/data/{:02x}/{:064x}", i % 256, i * 7919);
        t.op(Op::Delete, &pack, None, None);
    }
    assert_eq!(verdicts(&t.events), Vec::<String>::new());
}

#[test]
fn deleting_many_documents_is_mass_deletion_but_a_build_cleanup_is_not() {
    let mut clean = Trace::new(105, "make");
    for i in 0..2000 {
        clean.op(Op::Delete, &format!("/srv/src/build/obj{i}.o"), None, None);
    }
    assert_eq!(verdicts(&clean.events), Vec::<String>::new());
    let mut wipe = Trace::new(106, "rm");
    for i in 0..300 {
        wipe.op(
            Op::Delete,
            &format!("/srv/share/Customers/contract {i}.pdf"),
            None,
            None,
        );
    }
    let found = verdicts(&wipe.events);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("deleted 300 documents"), "{found:?}");
}

#[test]
fn documents_deleted_and_written_again_where_they_were_are_no_mass_deletion() {
    // A branch switch by one program: each tracked document unlinked, then created again
    // under its name (the create and delete share a queue; the write may come first).
    let mut checkout = Trace::new(107, "code");
    for round in 0..3 {
        for i in 0..150 {
            let path = format!("/srv/repo/docs/chapter {i}.md");
            if round % 2 == 0 {
                checkout.op(Op::Delete, &path, None, None);
                checkout.op(Op::Create, &path, None, None);
                checkout.op(Op::Write, &path, None, Some(text(3_000)));
            } else {
                checkout.op(Op::Write, &path, None, Some(text(3_000)));
                checkout.op(Op::Delete, &path, None, None);
                checkout.op(Op::Create, &path, None, None);
            }
        }
    }
    assert_eq!(verdicts(&checkout.events), Vec::<String>::new());
    // Deleted, and something else written: still a deletion of what was there.
    let mut wipe = Trace::new(108, "python3");
    for i in 0..250 {
        wipe.op(
            Op::Delete,
            &format!("/srv/share/Letters/letter {i}.md"),
            None,
            None,
        );
        wipe.op(
            Op::Write,
            &format!("/srv/share/Letters/log {i}.txt"),
            None,
            Some(text(100)),
        );
    }
    let found = verdicts(&wipe.events);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("deleted 250 documents"), "{found:?}");
}

/// The engine reads at once while the detector is concerned: for a new writer's first
/// moments, and for a while after anything that could start a verdict; benign work by a
/// writer past its first moments leaves it calm.
#[test]
fn a_new_writer_and_damage_concern_the_detector_and_benign_work_does_not() {
    let mut detector = Detector::new(Config::default());
    assert!(!detector.concerned(0), "nothing seen yet");
    let mut logs = Trace::new(300, "logrotate");
    logs.op(
        Op::Write,
        "/srv/share/logs/site.log",
        None,
        Some(text(8_000)),
    );
    logs.events.iter().for_each(|e| {
        detector.feed(e);
    });
    assert!(detector.concerned(1), "a new writer is read at once");
    assert!(
        !detector.concerned(1 + steward_detect::detector::NEW_FAMILY_MS),
        "and no longer once it has shown what it does"
    );
    // The same writer, later, compressing its log: readable content, no concern.
    let later = Event::File(FileEvent {
        at_ms: 500,
        pid: 300,
        op: Op::Write,
        path: "/srv/share/logs/site.log.1.gz".into(),
        to: None,
        sample: Some(with_head(b"\x1f\x8b\x08", 8_000, 5)),
    });
    detector.feed(&later);
    assert!(!detector.concerned(501), "compression is no concern");
    // A document overwritten with random bytes is.
    let damage = Event::File(FileEvent {
        at_ms: 600,
        pid: 300,
        op: Op::Write,
        path: "/srv/share/offer.docx".into(),
        to: None,
        sample: Some(Sample::of_bytes(&noise(20_000, 9))),
    });
    detector.feed(&damage);
    assert!(detector.concerned(601));
    assert!(detector.concerned(600 + steward_detect::detector::CONCERN_MS - 1));
    assert!(!detector.concerned(600 + steward_detect::detector::CONCERN_MS + 1));
}
