//! `steward report`: the security posture report straight from the installation's
//! database (as `steward admin` reads it), in the format asked for.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use steward_core::Scope;
use steward_server::posture::{Framework, report};
use steward_server::{ServerConfig, SystemClock, clock::Clock};
use steward_store::Store;

use crate::cli::ReportArgs;

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    crate::logging::init("warn");
    let url = crate::config::resolve_admin(&args.target)?;
    if let Some(db) = steward_store::sqlite_file(&url) {
        crate::private::sqlite_files(&db)?;
    }
    let framework = Framework::parse(&args.framework)
        .with_context(|| format!("--framework: no framework {:?}", args.framework))?;
    if args.format == "pdf" && args.output.is_none() && std::io::stdout().is_terminal() {
        bail!("a PDF is not for a terminal: give --output FILE, or redirect the output");
    }
    let store = Store::connect(&url).await?;
    let state = steward_server::state(store.clone(), ServerConfig::default())?;
    let built = steward_server::posture::service::report(
        &state,
        &Scope::AllDevices,
        framework,
        SystemClock.now(),
    )
    .await;
    store.close().await;
    let report = built?;
    let bytes: Vec<u8> = match args.format.as_str() {
        "json" => serde_json::to_vec_pretty(&report)?,
        "csv" => report::csv::render(&report).into_bytes(),
        "pdf" => tokio::task::spawn_blocking(move || report::pdf::render(&report))
            .await
            .context("the PDF task")??,
        "html" => report::html::render(&report)?.into_bytes(),
        other => bail!("--format: html, pdf, json or csv, not {other:?}"),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
        }
    }
    Ok(())
}
