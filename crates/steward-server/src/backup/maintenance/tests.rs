use super::*;

const NOW: i64 = 1_000 * DAY_MS;

fn policy(id: &str, keep: Keep, protection_days: i64) -> BackupPolicyRecord {
    BackupPolicyRecord {
        id: id.into(),
        name: id.into(),
        target: "all".into(),
        paths: vec!["/srv".into()],
        excludes: Vec::new(),
        schedule: "daily 01:00".into(),
        keep,
        protection_ms: protection_days * DAY_MS,
        bandwidth_kib: None,
        source: "console".into(),
        enabled: true,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

/// A snapshot received `days_ago`, made by `policy`.
fn snap(id: &str, days_ago: i64, policy: Option<&str>) -> BackupSnapshotRecord {
    BackupSnapshotRecord {
        device_id: "d".into(),
        snapshot_id: id.into(),
        received_at: Timestamp(NOW - days_ago * DAY_MS),
        written_at: Some(Timestamp(0)),
        policy_id: policy.map(Into::into),
        job_id: None,
        files: None,
        bytes: None,
        added_bytes: None,
        stored_bytes: None,
        duration_ms: None,
        paths: None,
        forgotten_at: None,
    }
}

fn last(n: u32) -> Keep {
    Keep {
        last: n,
        ..Keep::default()
    }
}

#[test]
fn no_covering_policy_forgets_nothing() {
    let s = [snap("a", 400, None), snap("b", 300, None)];
    assert!(forgettable(&s, &[], Timestamp(NOW)).is_empty());
}

#[test]
fn each_policys_snapshots_are_judged_by_its_own_keep() {
    let s = [
        snap("a1", 100, Some("A")),
        snap("a2", 90, Some("A")),
        snap("a3", 80, Some("A")),
        // B's are older than all of A's: judged together, A's would push them out.
        snap("b1", 300, Some("B")),
        snap("b2", 200, Some("B")),
    ];
    let covering = [policy("A", last(1), 30), policy("B", last(1), 30)];
    assert_eq!(
        forgettable(&s, &covering, Timestamp(NOW)),
        vec!["a1", "a2", "b1"]
    );
}

#[test]
fn other_snapshots_take_the_most_generous_keep_or_are_kept_whole() {
    let s = [
        snap("x1", 100, None),
        snap("x2", 90, Some("deleted-policy")),
        snap("x3", 80, None),
        snap("x4", 70, None),
    ];
    let covering = [policy("A", last(1), 30), policy("B", last(2), 30)];
    assert_eq!(
        forgettable(&s, &covering, Timestamp(NOW)),
        vec!["x1", "x2"],
        "keep last 2 of the others"
    );
    let keeps_all = [policy("A", last(1), 30), policy("B", Keep::default(), 30)];
    assert!(forgettable(&s, &keeps_all, Timestamp(NOW)).is_empty());
}

#[test]
fn the_longest_protection_window_holds_and_is_at_least_a_day() {
    let s = [
        snap("old", 50, Some("A")),
        snap("mid", 20, Some("A")),
        snap("new", 0, Some("A")),
    ];
    let short = [policy("A", last(1), 10)];
    assert_eq!(forgettable(&s, &short, Timestamp(NOW)), vec!["mid", "old"]);
    let with_long = [policy("A", last(1), 10), policy("B", last(1), 40)];
    assert_eq!(forgettable(&s, &with_long, Timestamp(NOW)), vec!["old"]);
    // Nothing received today goes, even with a window of zero in the store.
    let s = [snap("t1", 0, Some("A")), snap("t2", 0, Some("A"))];
    assert!(forgettable(&s, &[policy("A", last(1), 0)], Timestamp(NOW)).is_empty());
}
