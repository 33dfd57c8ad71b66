//! `steward admin channels list|test`. Channels carry secrets, so they are made in the
//! console, the API or the config file; here they are listed (secrets masked) and tested.
//! Their settings are sealed with the installation's sealing key, which these commands
//! read (never create).

use std::path::PathBuf;

use anyhow::bail;
use steward_core::Escaped;
use steward_server::AppState;
use steward_server::mfa::SealingKey;
use steward_server::monitoring::channels;
use steward_server::service::Caller;

use super::table::Table;
use super::{find, print_json};
use crate::cli::{AdminTarget, ChannelsCommand};
use crate::config::{DEFAULT_DATA_DIR, FileConfig};

pub async fn run(state: &AppState, caller: &Caller, cmd: ChannelsCommand) -> anyhow::Result<()> {
    match cmd {
        ChannelsCommand::List { json } => {
            let list = channels::list(state, caller).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no notification channels");
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "KIND", "ROUTES", "SOURCE", "SENDS TO"]);
            for c in &list {
                let routes = if c.routes.is_empty() {
                    "everything".to_string()
                } else {
                    let mut each = Vec::new();
                    for r in &c.routes {
                        let devices = super::covers(state, caller, &r.devices).await;
                        each.push(format!("{}+ on {devices}", r.min_status.as_str()));
                    }
                    each.join("; ")
                };
                table.row(vec![
                    c.name.clone(),
                    c.kind.clone(),
                    routes,
                    c.source.clone(),
                    c.summary.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
        ChannelsCommand::Test { channel } => {
            let list = channels::list(state, caller).await?;
            let found = find(
                &list,
                &channel,
                "notification channel",
                |c| &c.name,
                |c| &c.id,
            )?;
            let result = channels::test(state, caller, &found.id).await?;
            match result.error {
                None if result.delivered => {
                    println!(
                        "Test message delivered through {}: check that it arrived.",
                        Escaped(&found.name)
                    );
                    Ok(())
                }
                error => bail!(
                    "the test message through {} was not delivered: {}",
                    Escaped(&found.name),
                    Escaped(error.as_deref().unwrap_or("no reason given"))
                ),
            }
        }
    }
}

/// The installation's sealing key: `sealing_key_file` of its config file, else
/// `DATA_DIR/secret.key`.
pub fn sealing_key(target: &AdminTarget) -> anyhow::Result<SealingKey> {
    let file = FileConfig::load(target.config.as_deref())?;
    let path = file.sealing_key_file.clone().unwrap_or_else(|| {
        target
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
            .join("secret.key")
    });
    match crate::keyfile::load(&path)? {
        Some(key) => Ok(key),
        None => bail!(
            "no sealing key at {}: channel settings are sealed with the server's key; pass the \
             installation's --config or --data-dir",
            path.display()
        ),
    }
}
