//! Every built-in check is proven on recorded machines: a passing and a failing fixture at
//! least (and a not-applicable one where it applies), each evaluated to the state its
//! folder names. A check without them fails this test. A folder may carry a suffix
//! (`pass-nftables`, `fail-swapfile`) when one state has several recorded machines.

use std::path::Path;

use steward_posture::{FixtureHost, State, builtin, evaluate};

/// The state a fixture folder names: `pass`, or `pass-nftables` for one of several.
fn state_of(folder: &str) -> Option<State> {
    match folder.split('-').next().unwrap_or(folder) {
        "pass" => Some(State::Pass),
        "fail" => Some(State::Fail),
        "not_applicable" => Some(State::NotApplicable),
        "unknown" => Some(State::Unknown),
        _ => None,
    }
}

#[test]
fn every_builtin_check_passes_and_fails_on_its_fixtures() {
    let pack = builtin();
    assert!(pack.checks.len() >= 5, "the built-in pack parses");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for check in &pack.checks {
        let dir = fixtures.join(&check.id);
        let folders: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        for needed in ["pass", "fail"] {
            assert!(
                folders.iter().any(|f| state_of(f) == state_of(needed)),
                "{} has no {needed} fixture (fixtures/{}/{needed}/)",
                check.id,
                check.id
            );
        }
        if check.applies_if.is_some() {
            assert!(
                folders
                    .iter()
                    .any(|f| state_of(f) == Some(State::NotApplicable)),
                "{} applies only somewhere, so it needs a not_applicable fixture",
                check.id
            );
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let folder = entry.file_name().to_string_lossy().into_owned();
            let expected = state_of(&folder)
                .unwrap_or_else(|| panic!("fixtures/{}/{folder}: not a state", check.id));
            let host = FixtureHost::open(&entry.path()).unwrap();
            let outcome = evaluate(check, &host);
            assert_eq!(
                outcome.state, expected,
                "{} on fixtures/{}/{folder}: {outcome:?}",
                check.id, check.id
            );
            assert!(
                !outcome.reason.is_empty(),
                "{}: a reason is given",
                check.id
            );
        }
    }
    // No fixture folder without its check (a renamed check leaves none behind).
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            pack.checks.iter().any(|c| c.id == name),
            "fixtures/{name} belongs to no check"
        );
    }
}

#[test]
fn what_cannot_be_read_is_unknown_never_a_pass_or_a_failure() {
    let pack = builtin();
    let check = pack
        .checks
        .iter()
        .find(|c| c.id == "ssh-max-auth-tries")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // sshd answers, but without the key.
    std::fs::write(
        dir.path().join("commands.toml"),
        "[[command]]\nrun = \"sshd -T\"\nstdout = \"port 22\\n\"\n",
    )
    .unwrap();
    let outcome = evaluate(check, &FixtureHost::open(dir.path()).unwrap());
    assert_eq!(outcome.state, State::Unknown, "{outcome:?}");
    assert!(outcome.reason.contains("maxauthtries"), "{outcome:?}");
    // A number that is not one.
    std::fs::write(
        dir.path().join("commands.toml"),
        "[[command]]\nrun = \"sshd -T\"\nstdout = \"maxauthtries many\\n\"\n",
    )
    .unwrap();
    let outcome = evaluate(check, &FixtureHost::open(dir.path()).unwrap());
    assert_eq!(outcome.state, State::Unknown, "{outcome:?}");
    // A file that is not there.
    let aslr = pack.checks.iter().find(|c| c.id == "aslr-full").unwrap();
    let empty = tempfile::tempdir().unwrap();
    let outcome = evaluate(aslr, &FixtureHost::open(empty.path()).unwrap());
    assert_eq!(outcome.state, State::Unknown, "{outcome:?}");
}
