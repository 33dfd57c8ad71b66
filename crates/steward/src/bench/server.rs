//! A real `steward server` child process for the benchmarks that measure across processes.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Starts `steward server` on an ephemeral loopback port over `data_dir` (or `database`);
/// returns the child (killed when dropped) and its base URL once it listens.
pub async fn spawn(data_dir: &Path, database: Option<&str>) -> anyhow::Result<(Child, String)> {
    spawn_with(data_dir, database, None).await
}

/// [`spawn`] with a config file.
pub async fn spawn_with(
    data_dir: &Path,
    database: Option<&str>,
    config: Option<&Path>,
) -> anyhow::Result<(Child, String)> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("STEWARD_LOG", "warn,steward=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = database {
        cmd.arg("--database").arg(url);
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let mut server = cmd.spawn().context("starting steward server")?;
    let mut lines = BufReader::new(server.stderr.take().context("server stderr")?).lines();
    let url = loop {
        let Some(line) = lines.next_line().await? else {
            bail!("the server exited before listening");
        };
        if let Some(i) = line.find("listening on ") {
            break line[i + 13..].trim().trim_end_matches('/').to_string();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((server, url))
}
