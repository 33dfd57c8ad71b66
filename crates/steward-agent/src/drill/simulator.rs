//! `steward agent simulate-attack`: generates the simulator's tree, or attacks one, in
//! this process or (the `workers` mode) in several worker processes of this binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use steward_detect::simulate::{self, Mode, Options};

/// What `simulate-attack` is asked to do.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The tree's root: made by `generate`, attacked otherwise.
    pub dir: PathBuf,
    pub mode: Mode,
    /// The "encryption" key (the same key undoes it).
    pub key: u64,
    /// A worker's share (`Some((i, n))`): attack only it, spawning nothing.
    pub part: Option<(usize, usize)>,
    /// Walk the tree and attack every file in it, canaries included (see
    /// `steward_detect::simulate::Options::walk`).
    pub walk: bool,
    /// No pause between files (see `steward_detect::simulate::Options::unthrottled`).
    pub unthrottled: bool,
}

/// Makes a tree of `files` files at `dir` (which must not exist or be empty).
pub fn generate(dir: &Path, files: usize, seed: u64) -> anyhow::Result<usize> {
    let manifest = simulate::generate(dir, files, seed)
        .with_context(|| format!("making the drill's files in {}", dir.display()))?;
    Ok(manifest.files.len())
}

/// Runs the attack. A mode with several workers starts them as `program args…
/// --part i/n` (this binary's `agent simulate-attack`) and waits for them all.
pub fn run(simulation: &Simulation, program: &[std::ffi::OsString]) -> anyhow::Result<usize> {
    let workers = simulation.mode.workers();
    if let Some(part) = simulation.part {
        return attack(simulation, part);
    }
    if workers == 1 {
        return attack(simulation, (0, 1));
    }
    let (exe, args) = program
        .split_first()
        .context("no program to start the attack's workers with")?;
    let mut children: Vec<Child> = Vec::new();
    for i in 0..workers {
        let child = Command::new(exe)
            .args(args)
            .arg("--dir")
            .arg(&simulation.dir)
            .arg("--mode")
            .arg(simulation.mode.as_str())
            .arg("--key")
            .arg(simulation.key.to_string())
            .arg("--part")
            .arg(format!("{i}/{workers}"))
            .args(simulation.walk.then_some("--walk"))
            .args(simulation.unthrottled.then_some("--unthrottled"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("starting an attack worker")?;
        children.push(child);
    }
    let mut failed = None;
    for mut child in children {
        let status = child.wait().context("waiting for an attack worker")?;
        if !status.success() {
            failed = Some(status);
        }
    }
    match failed {
        Some(status) => anyhow::bail!("an attack worker ended with {status}"),
        None => Ok(simulate::tree::read_manifest(&simulation.dir)?.files.len()),
    }
}

fn attack(simulation: &Simulation, part: (usize, usize)) -> anyhow::Result<usize> {
    let mut options = Options {
        part,
        walk: simulation.walk,
        ..Options::of(simulation.mode, simulation.key)
    };
    if simulation.unthrottled {
        options = options.unthrottled(simulation.mode);
    }
    simulate::attack(
        &simulation.dir,
        simulation.mode,
        options,
        &mut simulate::attack::Unobserved,
    )
    .with_context(|| format!("attacking {}", simulation.dir.display()))
}
