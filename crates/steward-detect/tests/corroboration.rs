//! Two damaged documents are not enough alone; a corroborating signal makes them a
//! verdict. Lineage: a shell or interpreter started under an office or mail program (a
//! malicious document's macro). Rate: many distinct files changed within seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use steward_detect::{Config, Detector, Event, FileEvent, Op, ProcessInfo, Sample, signals};

fn random(n: usize, seed: u64) -> Sample {
    let mut bytes = vec![0u8; n];
    steward_detect::simulate::Keystream::new(seed).fill(&mut bytes);
    Sample::of_bytes(&bytes)
}

/// `python3` (pid 700, parent 699) under `ancestors`, overwriting two documents in place;
/// the verdict if there was one.
fn two_overwrites_under(ancestors: &[&str]) -> Option<steward_detect::Verdict> {
    two_overwrites_after(ancestors, 0)
}

/// [`two_overwrites_under`], after `others` plain text files written within the second.
fn two_overwrites_after(ancestors: &[&str], others: u64) -> Option<steward_detect::Verdict> {
    let mut detector = Detector::new(Config::default());
    let process = Event::Process(ProcessInfo {
        pid: 700,
        ppid: 699,
        name: "python3".into(),
        exe: "/usr/bin/python3".into(),
        uid: 1000,
        ancestors: ancestors.iter().map(|a| a.to_string()).collect(),
    });
    assert_eq!(detector.feed(&process), None);
    let mut verdict = None;
    for i in 0..others {
        let event = Event::File(FileEvent {
            at_ms: 100 + i * 10,
            pid: 700,
            op: Op::Write,
            path: format!("/home/ana/notes/note-{i}.txt"),
            to: None,
            sample: Some(Sample::of_bytes(b"a plain note, written again\n")),
        });
        verdict = verdict.or(detector.feed(&event));
    }
    assert_eq!(verdict, None, "plain writes alone are no attack");
    for (i, name) in ["offer.docx", "budget.xlsx"].iter().enumerate() {
        let event = Event::File(FileEvent {
            at_ms: 1_000 + i as u64 * 40,
            pid: 700,
            op: Op::Write,
            path: format!("/home/ana/Documents/{name}"),
            to: None,
            sample: Some(random(20_000, i as u64 + 1)),
        });
        verdict = verdict.or(detector.feed(&event));
    }
    verdict
}

#[test]
fn a_shell_under_an_office_program_damaging_two_documents_is_ransomware() {
    let verdict = two_overwrites_under(&["bash", "soffice.bin", "systemd"])
        .expect("two damaged documents and an office lineage make a verdict");
    let lineage = verdict
        .signals
        .iter()
        .find(|s| s.name == signals::LINEAGE)
        .unwrap_or_else(|| panic!("no lineage signal in {:?}", verdict.signals));
    assert_eq!(lineage.value, 1.0);
    assert!(
        lineage.detail.contains("soffice.bin"),
        "the signal names the office program: {lineage:?}"
    );
    assert_eq!(verdict.damaged, 2);
}

#[test]
fn the_same_two_overwrites_from_a_persons_shell_are_not_enough() {
    assert_eq!(two_overwrites_under(&["bash", "sshd", "systemd"]), None);
}

#[test]
fn two_damaged_documents_among_many_files_changed_at_once_are_ransomware() {
    let verdict = two_overwrites_after(&["bash", "sshd", "systemd"], 40)
        .expect("two damaged documents and a high rate make a verdict");
    let rate = verdict
        .signals
        .iter()
        .find(|s| s.name == signals::DISTINCT_FILES)
        .unwrap_or_else(|| panic!("no rate signal in {:?}", verdict.signals));
    assert!(rate.value >= 30.0, "{rate:?}");
    assert!(!verdict.signals.iter().any(|s| s.name == signals::LINEAGE));
}
