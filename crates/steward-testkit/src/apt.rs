//! A throwaway Debian root for patching tests: three packages built with `dpkg-deb`
//! (`steward-demo`, `steward-secfix`, `steward-broken`), their 1.0 installed into the root
//! with dpkg, their 1.1 indexed into two local repositories with `dpkg-scanpackages` (one
//! suite named like a security archive, whose update is classified as security), and apt
//! pointed at both. `steward-broken` 1.1 has a preinst that refuses, so its install
//! fails. Nothing outside the temporary directory changes; needs Debian's dpkg-dev and apt
//! (`scripts/test` installs dpkg-dev where missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use steward_agent::updates::{Apt, Root};

pub fn have(program: &str) -> bool {
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

pub fn status_version(root: &Path, package: &str) -> Option<String> {
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

/// A throwaway root with apt and dpkg pointed at it.
pub struct Machine {
    pub work: tempfile::TempDir,
    pub root: PathBuf,
    pub apt: Apt,
}

/// The throwaway root with the three packages at 1.0 and both repositories known to apt.
pub fn machine() -> Machine {
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
    Machine { work, root, apt }
}
