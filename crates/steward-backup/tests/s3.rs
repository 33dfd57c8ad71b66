//! A repository in an S3-compatible bucket: moto's S3 server on loopback (`scripts/test`
//! installs it). Objects are never replaced (`If-None-Match: *`), a backup restores byte for
//! byte, a corrupted pack is found, forget and prune work, and restic opens the repository
//! with its S3 backend.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_backup::storage::{
    ObjectKind, ObjectName, ObjectRef, S3Config, S3Storage, Storage, StorageError,
};
use steward_backup::{BackupRequest, ProgressCounter, Repo, repo};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const PASSWORD: &str = "bucket password";

/// moto's S3 server, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request without a body; the status code.
fn request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

fn moto() -> Result<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("moto_server (pip install 'moto[server]'; scripts/test does): {e}"))?;
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(port, "GET", "/").is_err() {
        if Instant::now() > deadline {
            return Err("moto_server did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(request(port, "PUT", "/steward")?, 200, "the bucket is made");
    Ok(moto)
}

fn config(port: u16) -> S3Config {
    S3Config {
        endpoint: format!("http://127.0.0.1:{port}"),
        region: "us-east-1".into(),
        bucket: "steward".into(),
        prefix: "backups".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    }
}

#[test]
fn a_repository_lives_in_a_bucket_and_restic_opens_it() -> Result {
    let moto = moto()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _inside = runtime.enter();
    let storage = Arc::new(S3Storage::new(&config(moto.port), "dev-1")?);

    // Objects are stored once: a second write of the same name is refused by the bucket.
    let name = ObjectName::parse(&"ab".repeat(32))?;
    let object = ObjectRef::named(ObjectKind::Index, name.clone());
    storage.put(&object, &[b"first ", b"version"])?;
    let again = storage.put(&object, &[b"overwrite"]);
    assert!(matches!(again, Err(StorageError::Exists(_))), "{again:?}");
    assert_eq!(storage.read(&object, None)?, b"first version");
    assert_eq!(
        storage.read(
            &object,
            Some(steward_backup::storage::Range {
                offset: 6,
                length: 3
            })
        )?,
        b"ver"
    );
    assert_eq!(storage.list(ObjectKind::Index)?, vec![(name, 13)]);
    assert_eq!(storage.size(&ObjectRef::config())?, None);
    storage.remove(&object)?;
    assert!(storage.list(ObjectKind::Index)?.is_empty());

    // A whole repository: init, back up, restore byte for byte.
    let work = tempfile::tempdir()?;
    let source = work.path().join("orders");
    std::fs::create_dir_all(source.join("2026"))?;
    std::fs::write(
        source.join("2026/november.csv"),
        "boot-42,120\n".repeat(5000),
    )?;
    std::fs::write(source.join("notes.txt"), "ship friday")?;
    repo::init(storage.clone(), PASSWORD)?;
    let request = BackupRequest {
        paths: vec![source.display().to_string()],
        host: "factory".into(),
        ..BackupRequest::default()
    };
    let snapshot =
        Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?.backup(&request)?;
    let target = work.path().join("restored");
    let inside = source.display().to_string();
    let inside = inside.trim_start_matches('/');
    Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?
        .into_indexed()?
        .restore(&snapshot.id, "", &target)?;
    assert_eq!(
        std::fs::read(target.join(inside).join("2026/november.csv"))?,
        std::fs::read(source.join("2026/november.csv"))?
    );
    assert!(
        Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?
            .check(100.0)?
            .errors
            .is_empty()
    );

    // The standard restic client opens it with its S3 backend.
    let listed = Command::new("restic")
        .args([
            "--no-cache",
            "-r",
            &format!("s3:http://127.0.0.1:{}/steward/backups/dev-1", moto.port),
            "snapshots",
            "--json",
        ])
        .env("RESTIC_PASSWORD", PASSWORD)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()?;
    assert!(
        listed.status.success(),
        "restic: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8(listed.stdout)?.contains(&snapshot.id));

    // Forget and prune run on the bucket too.
    let second = Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?.backup(&request)?;
    Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?
        .forget(std::slice::from_ref(&snapshot.id))?;
    Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?.prune()?;
    let left: Vec<String> = Repo::open(storage.clone(), PASSWORD, ProgressCounter::new())?
        .snapshots()?
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![second.id]);
    Ok(())
}
