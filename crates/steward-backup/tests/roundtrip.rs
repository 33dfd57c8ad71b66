//! A repository written and read through Steward's interface on a local directory: the
//! first and an incremental backup, a byte-for-byte restore (contents, modes, modification
//! times, symlinks), check (passing, then failing on a corrupted pack), forget and prune,
//! and the standard `restic` client reading what Steward wrote; listings bounded in depth
//! and length.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use steward_backup::storage::{LocalDir, ObjectKind, Storage};
use steward_backup::{BackupRequest, EntryKind, ListScope, Listing, ProgressCounter, Repo, repo};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const PASSWORD: &str = "correct horse battery staple";

fn write_tree(root: &Path) -> Result {
    fs::create_dir_all(root.join("docs/deep"))?;
    fs::write(root.join("docs/letter.txt"), "Dear supplier,\n".repeat(500))?;
    fs::write(
        root.join("docs/deep/data.bin"),
        (0..200_000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )?;
    fs::write(root.join("script.sh"), "#!/bin/sh\necho hi\n")?;
    fs::set_permissions(root.join("script.sh"), fs::Permissions::from_mode(0o750))?;
    fs::set_permissions(
        root.join("docs/letter.txt"),
        fs::Permissions::from_mode(0o600),
    )?;
    symlink("docs/letter.txt", root.join("latest-letter"))?;
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    fs::File::options()
        .write(true)
        .open(root.join("docs/letter.txt"))?
        .set_modified(old)?;
    Ok(())
}

/// Relative path, kind, mode, mtime (s), content or link target.
type Described = (String, String, u32, i64, Vec<u8>);

/// Every file, directory and symlink under `root`: relative path, kind, mode, mtime (s),
/// content or link target.
fn describe(root: &Path) -> Result<Vec<Described>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            let relative = path.strip_prefix(root)?.display().to_string();
            let mtime = meta
                .modified()?
                .duration_since(SystemTime::UNIX_EPOCH)?
                .as_secs() as i64;
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)?.display().to_string().into_bytes();
                out.push((relative, "link".into(), 0, 0, target));
            } else if meta.is_dir() {
                out.push((relative, "dir".into(), mode, 0, Vec::new()));
                stack.push(path);
            } else {
                out.push((relative, "file".into(), mode, mtime, fs::read(&path)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn open(storage: &Arc<LocalDir>) -> Result<Repo> {
    Ok(Repo::open(
        storage.clone(),
        PASSWORD,
        ProgressCounter::new(),
    )?)
}

#[test]
fn backup_restore_check_forget_prune_and_restic_reads_it() -> Result {
    let work = tempfile::tempdir()?;
    let source = work.path().join("source");
    write_tree(&source)?;
    let storage = Arc::new(LocalDir::new(work.path().join("repo")));
    repo::init(storage.clone(), PASSWORD)?;
    assert!(
        repo::init(storage.clone(), PASSWORD).is_err(),
        "a second init is refused"
    );
    assert!(Repo::open(storage.clone(), "wrong", ProgressCounter::new()).is_err());
    // One key, refused inits add none, and it costs restic's default 16 MiB of scrypt to
    // open (rustic's own would cost 128 MiB at every opening, in every backup worker).
    let keys = storage.list(ObjectKind::Key)?;
    assert_eq!(keys.len(), 1, "one key file: {keys:?}");
    let key: serde_json::Value = serde_json::from_slice(&storage.read(
        &steward_backup::storage::ObjectRef::named(ObjectKind::Key, keys[0].0.clone()),
        None,
    )?)?;
    assert_eq!(
        (key["N"].as_u64(), key["r"].as_u64()),
        (Some(16384), Some(8))
    );

    let request = BackupRequest {
        paths: vec![source.display().to_string()],
        excludes: vec!["*.tmp".into()],
        host: "factory-pc".into(),
        tags: vec!["steward".into()],
    };
    fs::write(source.join("scratch.tmp"), "not wanted")?;
    let progress = ProgressCounter::new();
    let first = Repo::open(storage.clone(), PASSWORD, progress.clone())?.backup(&request)?;
    fs::remove_file(source.join("scratch.tmp"))?;
    assert_eq!(first.hostname, "factory-pc");
    assert_eq!(
        first.files,
        Some(4),
        "three files and a symlink; the excluded one is not read"
    );
    assert!(
        progress.read().done_bytes > 200_000,
        "{:?}",
        progress.read()
    );
    let packs_after_first = storage.list(ObjectKind::Data)?.len();

    // Change one file: the incremental adds little.
    fs::write(source.join("docs/new.txt"), "a new order")?;
    let second = open(&storage)?.backup(&request)?;
    assert!(
        second.added_bytes.unwrap_or(u64::MAX) < 10_000,
        "{second:?}"
    );
    assert_eq!(open(&storage)?.snapshots()?.len(), 2);

    let indexed = open(&storage)?.into_indexed()?;
    let listing = indexed.ls(&second.id, "", ListScope::UNBOUNDED)?.entries;
    let inside = source.display().to_string();
    let inside = inside.trim_start_matches('/');
    let link = listing
        .iter()
        .find(|e| e.path == format!("{inside}/latest-letter"));
    assert_eq!(
        link.map(|e| (e.kind, e.link.clone())),
        Some((EntryKind::Symlink, Some("docs/letter.txt".into())))
    );
    assert!(
        indexed
            .ls(&second.id[..8], "", ListScope::children(10))
            .is_ok(),
        "a unique prefix names a snapshot"
    );
    assert!(indexed.ls("not-hex", "", ListScope::children(10)).is_err());

    let target = work.path().join("restored");
    let summary = indexed.restore(&second.id, "", &target)?;
    assert_eq!(
        summary.files, 4,
        "four regular files (the symlink is not a file) {summary:?}"
    );
    assert_eq!(
        describe(&target.join(inside))?,
        describe(&source)?,
        "restored byte for byte"
    );

    // One folder alone, to another place.
    let partial = work.path().join("partial");
    indexed.restore(&second.id, &format!("{inside}/docs/deep"), &partial)?;
    assert_eq!(
        fs::read(partial.join("data.bin"))?,
        fs::read(source.join("docs/deep/data.bin"))?
    );

    // One file alone: the target names the file itself.
    let single = work.path().join("single/letter.txt");
    indexed.restore(&second.id, &format!("{inside}/docs/letter.txt"), &single)?;
    assert!(single.is_file(), "a file, not a folder of its name");
    assert_eq!(
        fs::read(&single)?,
        fs::read(source.join("docs/letter.txt"))?
    );

    // The standard restic client lists and restores what Steward wrote.
    let restic = |args: &[&str]| -> Result<std::process::Output> {
        Ok(Command::new("restic")
            .args(["--no-cache", "-r"])
            .arg(storage.root())
            .args(args)
            .env("RESTIC_PASSWORD", PASSWORD)
            .output()?)
    };
    let listed = restic(&["snapshots", "--json"])?;
    assert!(
        listed.status.success(),
        "restic snapshots: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let text = String::from_utf8(listed.stdout)?;
    assert!(
        text.contains(&first.id) && text.contains(&second.id),
        "{text}"
    );
    let by_restic = work.path().join("by-restic");
    let restored = restic(&[
        "restore",
        &second.id,
        "--target",
        &by_restic.display().to_string(),
        "--include",
        "/**/letter.txt",
    ])?;
    assert!(
        restored.status.success(),
        "restic restore: {}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert_eq!(
        fs::read(by_restic.join(inside).join("docs/letter.txt"))?,
        fs::read(source.join("docs/letter.txt"))?
    );
    let checked = restic(&["check", "--read-data"])?;
    assert!(
        checked.status.success(),
        "restic check: {}",
        String::from_utf8_lossy(&checked.stderr)
    );

    // Check passes, forget + prune drop the first snapshot's unshared data, check passes again.
    assert!(open(&storage)?.check(100.0)?.errors.is_empty());
    open(&storage)?.forget(std::slice::from_ref(&first.id))?;
    open(&storage)?.prune()?;
    assert_eq!(
        open(&storage)?
            .snapshots()?
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        vec![second.id.clone()]
    );
    assert!(open(&storage)?.check(100.0)?.errors.is_empty());
    assert!(storage.list(ObjectKind::Data)?.len() >= packs_after_first.min(1));

    // A corrupted pack is found by a check that reads data. Every pack is corrupted: the
    // prune above may leave a pack it only marked for deletion (rustic removes those a day
    // later), which no check reads, and the listing's order is the packs' random names.
    for (pack, _) in storage.list(ObjectKind::Data)? {
        let path = storage
            .root()
            .join("data")
            .join(&pack.as_str()[..2])
            .join(pack.as_str());
        let mut bytes = fs::read(&path)?;
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
        fs::write(&path, bytes)?;
    }
    let report = open(&storage)?.check(100.0)?;
    assert!(!report.errors.is_empty(), "the corruption is reported");
    Ok(())
}

/// A policy's paths are the same on many machines: one missing here is left out, and the
/// time written inside a snapshot can be set (as a device's wrong clock, or a forger, sets
/// it).
#[test]
fn missing_paths_are_left_out_and_the_written_time_is_the_callers() -> Result {
    let work = tempfile::tempdir()?;
    let here = work.path().join("here");
    fs::create_dir_all(&here)?;
    fs::write(here.join("a.txt"), "a")?;
    let missing = work.path().join("not-here").display().to_string();
    let storage = Arc::new(LocalDir::new(work.path().join("repo")));
    repo::init(storage.clone(), PASSWORD)?;
    let request = BackupRequest {
        paths: vec![here.display().to_string(), missing.clone()],
        host: "test".into(),
        ..BackupRequest::default()
    };
    let info = open(&storage)?.backup_written_at(&request, Some(978_307_200_000))?;
    assert_eq!(info.paths, vec![here.display().to_string()]);
    assert_eq!(info.written_at, 978_307_200_000);
    let none = BackupRequest {
        paths: vec![missing],
        ..request
    };
    let refused = open(&storage)?.backup(&none);
    assert!(
        refused.is_err_and(|e| e.to_string().contains("none of")),
        "nothing to back up is an error"
    );
    Ok(())
}

/// A listing reaches as far as asked: a folder's own entries or everything under it, at most
/// so many, saying when it stopped short; a file lists as itself.
#[test]
fn listings_go_one_level_or_all_the_way_and_stop_at_their_limit() -> Result {
    let work = tempfile::tempdir()?;
    let source = work.path().join("share");
    fs::create_dir_all(source.join("a/deep"))?;
    fs::write(source.join("a/x.txt"), "x")?;
    fs::write(source.join("a/deep/y.txt"), "y")?;
    fs::write(source.join("b.txt"), "b")?;
    fs::create_dir_all(source.join("c"))?;
    fs::write(source.join("c/z.txt"), "z")?;
    let storage = Arc::new(LocalDir::new(work.path().join("repo")));
    repo::init(storage.clone(), PASSWORD)?;
    let request = BackupRequest {
        paths: vec![source.display().to_string()],
        host: "test".into(),
        ..BackupRequest::default()
    };
    let id = open(&storage)?.backup(&request)?.id;
    let indexed = open(&storage)?.into_indexed()?;
    let inside = source.display().to_string();
    let inside = inside.trim_start_matches('/');
    let paths = |listing: &Listing| -> Vec<String> {
        listing
            .entries
            .iter()
            .map(|e| e.path.strip_prefix(inside).unwrap_or(&e.path).to_owned())
            .collect()
    };

    let direct = indexed.ls(&id, inside, ListScope::children(100))?;
    assert_eq!(
        paths(&direct),
        ["/a", "/b.txt", "/c"],
        "only its own entries"
    );
    assert!(!direct.cut);
    let exactly = indexed.ls(&id, inside, ListScope::children(3))?;
    assert!(!exactly.cut, "nothing left after the limit: not cut");
    let cut = indexed.ls(&id, &format!("/{inside}/"), ListScope::children(2))?;
    assert_eq!(
        (paths(&cut), cut.cut),
        (vec!["/a".into(), "/b.txt".into()], true)
    );

    let all = indexed.ls(&id, inside, ListScope::subtree(100))?;
    assert_eq!(
        paths(&all),
        [
            "/a",
            "/a/deep",
            "/a/deep/y.txt",
            "/a/x.txt",
            "/b.txt",
            "/c",
            "/c/z.txt"
        ],
        "depth first, in name order"
    );
    assert!(!all.cut);
    let first = indexed.ls(&id, inside, ListScope::subtree(4))?;
    assert_eq!(paths(&first), paths(&all)[..4]);
    assert!(first.cut);

    // A file is its own listing, under its own path, however it is asked for.
    let file = format!("{inside}/a/x.txt");
    for scope in [ListScope::children(10), ListScope::subtree(10)] {
        let listed = indexed.ls(&id, &file, scope)?;
        assert_eq!(paths(&listed), ["/a/x.txt"], "{scope:?}");
        assert_eq!(listed.entries[0].kind, EntryKind::File);
        assert!(!listed.cut);
    }
    let none = indexed.ls(&id, &file, ListScope::children(0))?;
    assert!(none.entries.is_empty() && none.cut);
    assert!(
        indexed
            .ls(&id, &format!("{inside}/missing"), ListScope::children(10))
            .is_err()
    );
    Ok(())
}
