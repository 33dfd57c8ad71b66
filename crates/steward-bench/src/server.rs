//! The `steward` binary, for the benchmarks that measure across processes: real `steward
//! server` children, and the agent bench's `steward agent`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// Where the `steward` binary is.
#[derive(Debug, Clone)]
pub struct Steward(PathBuf);

impl Steward {
    /// `given`, else `steward` beside this program: `cargo build --release -p steward -p
    /// steward-bench` puts both in target/release. Checked now, so a missing binary is one
    /// clear error before a bench starts rather than a failure midway.
    pub fn find(given: Option<PathBuf>) -> anyhow::Result<Steward> {
        let path = match given {
            Some(path) => path,
            None => {
                let me = std::env::current_exe().context("finding this program's directory")?;
                me.with_file_name(format!("steward{}", std::env::consts::EXE_SUFFIX))
            }
        };
        if !path.is_file() {
            bail!(
                "no steward binary at {}: build it (cargo build --release -p steward) or pass \
                 --steward FILE",
                path.display()
            );
        }
        Ok(Steward(path))
    }

    /// The binary's path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A copy of the binary in `dir`, written out to disk, for a process that should have
    /// its binary to itself as on a device: the kernel keeps a code page that another process
    /// maps too, so agents started from one file would hold each other's pages.
    pub fn copy_into(&self, dir: &Path) -> anyhow::Result<Steward> {
        let name = self.0.file_name().context("the steward binary's name")?;
        let copy = dir.join(name);
        std::fs::copy(&self.0, &copy)
            .with_context(|| format!("copying {} into {}", self.0.display(), dir.display()))?;
        // Written out, as an installed binary long is (the kernel does not page out a page
        // that is still to be written).
        std::fs::File::open(&copy)?.sync_all()?;
        Ok(Steward(copy))
    }

    /// A command running the `steward` binary.
    pub fn command(&self) -> tokio::process::Command {
        tokio::process::Command::new(&self.0)
    }

    /// Starts `steward server` on an ephemeral loopback port over `data_dir` (or
    /// `database`); returns the child (killed when dropped) and its base URL once it listens.
    pub async fn spawn(
        &self,
        data_dir: &Path,
        database: Option<&str>,
    ) -> anyhow::Result<(Child, String)> {
        self.spawn_with(data_dir, database, None).await
    }

    /// [`Steward::spawn`] with a config file.
    pub async fn spawn_with(
        &self,
        data_dir: &Path,
        database: Option<&str>,
        config: Option<&Path>,
    ) -> anyhow::Result<(Child, String)> {
        let mut cmd = self.command();
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
}
