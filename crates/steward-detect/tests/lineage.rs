//! Lineage corroborates damage: a shell or interpreter started under an office or mail
//! program (a malicious document's macro) that overwrites two documents with random bytes
//! is judged at once, while the same two overwrites from a person's shell are not enough.
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
