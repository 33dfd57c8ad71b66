//! The apt update manager against real apt-get and dpkg, in a throwaway root: the test
//! builds three packages (`dpkg-deb`), installs their 1.0 into the root, indexes their 1.1
//! into two local repositories (`dpkg-scanpackages`; one suite named like a security
//! archive), and checks that the updates are listed and classified, and that installing
//! them really installs the good ones and reports the broken one as failed. Nothing
//! outside the temporary directory changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use steward_agent::updates::{Apt, Root, UpdateManager};
use steward_core::patching::PackageOutcome;

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds `name_version_all.deb` into `into`; `preinst_fails` gives it a preinst that
/// refuses.
fn build_deb(work: &Path, name: &str, version: &str, preinst_fails: bool, into: &Path) {
    let tree = work.join(format!("build/{name}_{version}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join(format!("usr/share/{name}"))).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\n\
             Maintainer: Steward tests <tests@example.org>\nDescription: a test package\n"
        ),
    )
    .unwrap();
    std::fs::write(tree.join(format!("usr/share/{name}/version")), version).unwrap();
    if preinst_fails {
        let preinst = tree.join("DEBIAN/preinst");
        std::fs::write(
            &preinst,
            "#!/bin/sh\necho 'this version refuses to install' >&2\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&preinst, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::create_dir_all(into).unwrap();
    run(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "--build",
            tree.to_str().unwrap(),
            into.to_str().unwrap(),
        ],
        work,
    );
}

/// A flat repository in `dir`: its `Packages` index and a `Release` naming its suite.
fn index_repository(dir: &Path, label: &str, suite: &str) {
    let packages = run("dpkg-scanpackages", &[".", "/dev/null"], dir);
    std::fs::write(dir.join("Packages"), packages).unwrap();
    std::fs::write(
        dir.join("Release"),
        format!("Origin: Steward\nLabel: {label}\nSuite: {suite}\nCodename: {suite}\n"),
    )
    .unwrap();
}

fn status_version(root: &Path, package: &str) -> Option<String> {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    status.split("\n\n").find_map(|stanza| {
        stanza
            .lines()
            .any(|l| l == format!("Package: {package}"))
            .then(|| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix("Version: "))
                    .map(str::to_owned)
            })
            .flatten()
    })
}

struct Machine {
    _work: tempfile::TempDir,
    root: PathBuf,
    apt: Apt,
}

/// The throwaway root with the three packages at 1.0 and both repositories known to apt.
fn machine() -> Machine {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let root = w.join("root");
    let apt = Apt::new(Root::prepare_directory(&root).unwrap());

    let old = w.join("old");
    for name in ["steward-demo", "steward-secfix", "steward-broken"] {
        build_deb(w, name, "1.0", false, &old);
    }
    let main = w.join("repo-main");
    build_deb(w, "steward-demo", "1.1", false, &main);
    build_deb(w, "steward-broken", "1.1", true, &main);
    index_repository(&main, "Steward", "bookworm");
    let security = w.join("repo-security");
    build_deb(w, "steward-secfix", "1.1", false, &security);
    index_repository(&security, "Steward-Security", "bookworm-security");

    let debs: Vec<String> = std::fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut install = vec![
        format!("--root={}", root.display()),
        "--force-script-chrootless".to_owned(),
        "--force-not-root".to_owned(),
        "-i".to_owned(),
    ];
    install.extend(debs);
    let install: Vec<&str> = install.iter().map(String::as_str).collect();
    run("dpkg", &install, w);

    std::fs::write(
        root.join("etc/apt/sources.list"),
        format!(
            "deb [trusted=yes] file:{} ./\ndeb [trusted=yes] file:{} ./\n",
            main.display(),
            security.display()
        ),
    )
    .unwrap();
    let conf = root.join("etc/apt/apt.conf");
    let update = Command::new("apt-get")
        .args(["-o", &format!("Dir={}/", root.display()), "update"])
        .env("APT_CONFIG", &conf)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(
        update.status.success(),
        "apt-get update: {}",
        String::from_utf8_lossy(&update.stderr)
    );
    Machine {
        _work: work,
        root,
        apt,
    }
}

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
    assert_eq!(pending[2].source, "Steward-Security:bookworm-security");
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
