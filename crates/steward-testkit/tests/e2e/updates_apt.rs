//! The apt update manager against real apt-get and dpkg, in a throwaway root
//! (`steward_testkit::apt`): the updates are listed and classified (one from a security
//! suite), installing them really installs the good ones and reports the broken one as
//! failed. Nothing outside the temporary directory changes.

use steward_agent::updates::UpdateManager;
use steward_core::patching::PackageOutcome;
use steward_testkit::apt::{have, machine, status_version};

#[test]
fn updates_are_listed_classified_and_installed_in_a_throwaway_root() {
    for tool in ["dpkg", "dpkg-deb", "dpkg-scanpackages", "apt-get"] {
        assert!(
            have(tool),
            "{tool} is needed for this test (Debian's dpkg-dev and apt)"
        );
    }
    let m = machine();

    let mut pending = m.apt.pending().unwrap();
    pending.sort_by(|a, b| a.package.cmp(&b.package));
    let seen: Vec<_> = pending
        .iter()
        .map(|p| {
            (
                p.package.as_str(),
                p.installed.as_str(),
                p.candidate.as_str(),
                p.security,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("steward-broken", "1.0", "1.1", false),
            ("steward-demo", "1.0", "1.1", false),
            ("steward-secfix", "1.0", "1.1", true),
        ]
    );
    assert_eq!(pending[2].source, "bookworm-security");
    assert_eq!(pending[2].arch, "all");
    assert!(!m.apt.reboot_required().unwrap());

    let packages: Vec<String> = ["steward-demo", "steward-secfix", "steward-broken"]
        .map(str::to_owned)
        .to_vec();
    let mut log = Vec::new();
    let results = m
        .apt
        .install(&packages, &mut |line| log.push(line.to_owned()))
        .unwrap();
    let log = log.join("\n");
    let outcome = |name: &str| {
        results
            .iter()
            .find(|r| r.package == name)
            .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
    };
    for good in ["steward-demo", "steward-secfix"] {
        let result = outcome(good);
        assert_eq!(result.outcome, PackageOutcome::Installed, "{good}: {log}");
        assert_eq!(result.from, "1.0");
        assert_eq!(result.to.as_deref(), Some("1.1"));
        assert_eq!(status_version(&m.root, good).as_deref(), Some("1.1"));
    }
    let broken = outcome("steward-broken");
    let PackageOutcome::Failed { why } = &broken.outcome else {
        panic!("steward-broken: {broken:?}\n{log}")
    };
    assert!(why.contains("pre-installation script"), "{why}");
    assert_eq!(broken.to.as_deref(), Some("1.0"));
    assert_eq!(
        status_version(&m.root, "steward-broken").as_deref(),
        Some("1.0")
    );
    assert!(
        log.contains("this version refuses to install"),
        "the log streams dpkg's output: {log}"
    );

    let after = m.apt.pending().unwrap();
    let names: Vec<_> = after.iter().map(|p| p.package.as_str()).collect();
    assert_eq!(names, ["steward-broken"]);

    std::fs::write(m.root.join("run/reboot-required"), "").unwrap();
    assert!(m.apt.reboot_required().unwrap());
}

#[test]
fn an_already_current_package_is_unchanged_and_an_unknown_one_failed() {
    let m = machine();
    let packages = ["steward-demo", "steward-nosuch"]
        .map(str::to_owned)
        .to_vec();
    let results = m.apt.install(&packages[..1], &mut |_| {}).unwrap();
    assert_eq!(results[0].outcome, PackageOutcome::Installed);
    let again = m.apt.install(&packages[..1], &mut |_| {}).unwrap();
    assert_eq!(again[0].outcome, PackageOutcome::Unchanged, "{again:?}");
    let unknown = m.apt.install(&packages[1..], &mut |_| {}).unwrap();
    assert!(unknown[0].failed(), "{unknown:?}");
    // A name that would be an option never reaches apt-get.
    let err = m
        .apt
        .install(&["-oDir=/".to_owned()], &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().starts_with("packages: "), "{err}");
}
