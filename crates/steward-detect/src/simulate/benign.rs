//! Benign work that looks most like ransomware, done by the real tools, for the benign
//! suite (no verdict allowed) and the sensor's CPU figure: archives, compression in place,
//! version control, a camera import, a backup tool writing encrypted packs, log rotation,
//! a package installation and a compiler build. Each runs in a folder of its own under the
//! given root, which the caller watches.

use std::fs;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use super::tree;

/// One kind of benign work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `tar czf` of a few hundred documents.
    TarGzip,
    /// `gzip -r` of a folder: each file replaced by its `.gz`.
    GzipInPlace,
    /// `zip -r` of a folder.
    Zip,
    /// A git repository of a thousand files: commit, branch, change, checkout back and forth.
    Git,
    /// JPEGs copied from a "memory card" into a photos folder.
    CameraImport,
    /// `restic backup` into a repository inside the watched folder (encrypted packs).
    BackupTool,
    /// `logrotate` with compression, rotating a busy log several times.
    LogRotation,
    /// `dpkg` installing a package of two hundred files into a root inside the folder
    /// (its `.dpkg-new` files renamed over the old ones on the upgrade).
    PackageInstall,
    /// `make -j2` compiling sixty C files.
    CompilerBuild,
}

impl Workload {
    pub const ALL: [Workload; 9] = [
        Workload::TarGzip,
        Workload::GzipInPlace,
        Workload::Zip,
        Workload::Git,
        Workload::CameraImport,
        Workload::BackupTool,
        Workload::LogRotation,
        Workload::PackageInstall,
        Workload::CompilerBuild,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Workload::TarGzip => "tar-gzip",
            Workload::GzipInPlace => "gzip-in-place",
            Workload::Zip => "zip",
            Workload::Git => "git",
            Workload::CameraImport => "camera-import",
            Workload::BackupTool => "backup-tool",
            Workload::LogRotation => "log-rotation",
            Workload::PackageInstall => "package-install",
            Workload::CompilerBuild => "compiler-build",
        }
    }

    /// Makes what the work starts from (files to archive, a card of photos): not part of
    /// what is measured. `scratch` is outside the watched folder.
    pub fn prepare(self, dir: &Path, scratch: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        fs::create_dir_all(scratch)?;
        match self {
            Workload::TarGzip | Workload::GzipInPlace | Workload::Zip | Workload::BackupTool => {
                tree::generate(&dir.join("files"), 300, 41)?;
                let _ = fs::remove_file(dir.join("files").join(tree::MANIFEST));
            }
            Workload::Git => {
                source_tree(&dir.join("repo"), 1000)?;
                run(Command::new("git")
                    .args(["init", "-q", "-b", "main"])
                    .current_dir(dir.join("repo")))?;
            }
            Workload::CameraImport => {
                tree::generate(&scratch.join("card"), 200, 43)?;
            }
            Workload::LogRotation => {
                fs::create_dir_all(dir.join("logs"))?;
            }
            Workload::PackageInstall => {
                for version in ["1.0", "1.1"] {
                    build_package(scratch, version)?;
                }
                let root = dir.join("root");
                fs::create_dir_all(root.join("var/lib/dpkg/info"))?;
                fs::create_dir_all(root.join("var/lib/dpkg/updates"))?;
                fs::write(root.join("var/lib/dpkg/status"), "")?;
            }
            Workload::CompilerBuild => {
                c_project(&dir.join("project"), 60)?;
            }
        }
        Ok(())
    }

    /// Does the work.
    pub fn run(self, dir: &Path, scratch: &Path) -> io::Result<()> {
        match self {
            Workload::TarGzip => run(Command::new("tar")
                .args(["czf", "files.tar.gz", "files"])
                .current_dir(dir)),
            Workload::GzipInPlace => {
                run(Command::new("gzip").args(["-r", "files"]).current_dir(dir))
            }
            Workload::Zip => run(Command::new("zip")
                .args(["-qr", "files.zip", "files"])
                .current_dir(dir)),
            Workload::Git => git_work(&dir.join("repo")),
            Workload::CameraImport => {
                let photos = dir.join("Photos/2026-11-30");
                fs::create_dir_all(&photos)?;
                for entry in walk(&scratch.join("card"))? {
                    if entry.extension().is_some_and(|e| e == "jpg") {
                        let name = entry.file_name().unwrap_or_default();
                        fs::copy(&entry, photos.join(name))?;
                    }
                }
                Ok(())
            }
            Workload::BackupTool => {
                let repo = dir.join("restic-repo");
                let restic = |args: &[&str]| {
                    let mut c = Command::new("restic");
                    c.args(args)
                        .arg("--repo")
                        .arg(&repo)
                        .arg("--quiet")
                        .env("RESTIC_PASSWORD", "benign-suite")
                        .env("RESTIC_CACHE_DIR", scratch.join("restic-cache"));
                    c
                };
                run(&mut restic(&["init"]))?;
                run(restic(&["backup"]).arg(dir.join("files")))
            }
            Workload::LogRotation => log_rotation(&dir.join("logs"), scratch),
            Workload::PackageInstall => {
                let root = dir.join("root");
                for version in ["1.0", "1.1"] {
                    run(Command::new("dpkg")
                        .arg(format!("--root={}", root.display()))
                        .args([
                            "--force-not-root",
                            "--force-bad-path",
                            "--force-depends",
                            "--log=/dev/null",
                            "-i",
                        ])
                        .arg(scratch.join(format!("benign_{version}_all.deb"))))?;
                }
                Ok(())
            }
            Workload::CompilerBuild => run(Command::new("make")
                .args(["-s", "-j2"])
                .current_dir(dir.join("project"))),
        }
    }
}

fn run(command: &mut Command) -> io::Result<()> {
    let output = command.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed: {}",
            command.get_program(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

fn walk(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// A source tree: Rust-looking and Markdown files in nested folders.
fn source_tree(dir: &Path, files: usize) -> io::Result<()> {
    for i in 0..files {
        let folder = dir.join(format!("src/module{}", i % 40));
        fs::create_dir_all(&folder)?;
        let ext = if i % 10 == 0 { "md" } else { "rs" };
        let body = format!(
            "// file {i}\npub fn value_{i}() -> u64 {{\n    {i} * 3 + 1\n}}\n{}",
            "// a comment that makes the file a realistic size\n".repeat(20 + i % 50)
        );
        fs::write(folder.join(format!("file{i}.{ext}")), body)?;
    }
    Ok(())
}

fn git_work(repo: &Path) -> io::Result<()> {
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.invalid",
        ])
        .args(args)
        .current_dir(repo);
        c
    };
    run(&mut git(&["add", "-A"]))?;
    run(&mut git(&["commit", "-q", "-m", "first"]))?;
    run(&mut git(&["checkout", "-q", "-b", "feature"]))?;
    for i in (0..1000).step_by(2) {
        let folder = repo.join(format!("src/module{}", i % 40));
        let ext = if i % 10 == 0 { "md" } else { "rs" };
        let path = folder.join(format!("file{i}.{ext}"));
        let mut body = fs::read_to_string(&path)?;
        body.push_str("// changed on the feature branch\n");
        fs::write(&path, body)?;
    }
    for i in 0..300 {
        fs::write(
            repo.join(format!("src/module0/new{i}.rs")),
            format!("// new {i}\n"),
        )?;
    }
    run(&mut git(&["add", "-A"]))?;
    run(&mut git(&["commit", "-q", "-m", "feature"]))?;
    run(&mut git(&["checkout", "-q", "main"]))?;
    run(&mut git(&["checkout", "-q", "feature"]))?;
    run(&mut git(&["gc", "-q"]))
}

fn log_rotation(logs: &Path, scratch: &Path) -> io::Result<()> {
    let config = scratch.join("logrotate.conf");
    fs::write(
        &config,
        format!(
            "{}/*.log {{\n  rotate 5\n  compress\n  missingok\n  nocreate\n}}\n",
            logs.display()
        ),
    )?;
    for round in 0..6 {
        for site in 0..20 {
            let line = format!(
                "10.0.0.{site} - - [30/Nov/2026] \"GET /order/{round} HTTP/1.1\" 200 512\n"
            );
            fs::write(logs.join(format!("site{site}.log")), line.repeat(400))?;
        }
        run(Command::new("logrotate")
            .arg("-f")
            .arg("-s")
            .arg(scratch.join("logrotate.state"))
            .arg(&config))?;
    }
    Ok(())
}

/// A .deb of two hundred files (text and random data), version `version`.
fn build_package(scratch: &Path, version: &str) -> io::Result<()> {
    let build = scratch.join(format!("pkg-{version}"));
    let _ = fs::remove_dir_all(&build);
    fs::create_dir_all(build.join("DEBIAN"))?;
    fs::write(
        build.join("DEBIAN/control"),
        format!(
            "Package: benign\nVersion: {version}\nArchitecture: all\nMaintainer: Steward <steward@example.invalid>\nDescription: benign suite package\n"
        ),
    )?;
    let mut stream = super::Keystream::new(version.len() as u64 + 7);
    for i in 0..200 {
        let folder = build.join(format!("opt/benign/part{}", i % 10));
        fs::create_dir_all(&folder)?;
        if i % 2 == 0 {
            fs::write(
                folder.join(format!("doc{i}.txt")),
                format!("version {version} notes {i}\n").repeat(100),
            )?;
        } else {
            let mut data = vec![0u8; 16_384];
            stream.fill(&mut data);
            fs::write(folder.join(format!("data{i}.bin")), data)?;
        }
    }
    run(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zgzip"])
        .arg(&build)
        .arg(scratch.join(format!("benign_{version}_all.deb"))))
}

/// A C project of `files` sources and a Makefile.
fn c_project(dir: &Path, files: usize) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut objects = Vec::new();
    for i in 0..files {
        fs::write(
            dir.join(format!("unit{i}.c")),
            format!(
                "int unit{i}(int x) {{ int s = 0; for (int k = 0; k < x; k++) s += k * {i}; return s; }}\n"
            ),
        )?;
        objects.push(format!("unit{i}.o"));
    }
    fs::write(dir.join("main.c"), "int main(void) { return 0; }\n")?;
    fs::write(
        dir.join("Makefile"),
        format!(
            "OBJ = main.o {}\nprogram: $(OBJ)\n\tcc -o program $(OBJ)\n%.o: %.c\n\tcc -O1 -c $< -o $@\n",
            objects.join(" ")
        ),
    )
}
