//! `steward admin posture items|answer|exception`: the checklist's manual items and the
//! accepted risks from the shell, through the posture service the API and the console use
//! (`steward_server::posture::service`), so the rules, refusals and audit entries are the
//! same.

use anyhow::{Context, bail};
use steward_core::Escaped;
use steward_core::checks::Target;
use steward_core::posture::manual::Answer;
use steward_proto::posture::{Item, NewException, SaveAnswer};
use steward_server::AppState;
use steward_server::monitoring::windows::{Named, target_of};
use steward_server::posture::{Framework, service};
use steward_server::service::Caller;
use steward_store::AttachmentChange;

use super::monitoring::covers;
use super::monitoring::table::Table;
use crate::cli::{ExceptionCommand, PostureCommand};

pub async fn run(state: &AppState, caller: &Caller, command: PostureCommand) -> anyhow::Result<()> {
    match command {
        PostureCommand::Items { json } => items(state, caller, json).await,
        PostureCommand::Answer {
            item,
            answer,
            owner,
            note,
            review_by,
            attach,
        } => {
            let Some(parsed) = Answer::parse(&answer.replace('-', "_")) else {
                bail!("--answer: yes, partly, no or not_applicable, not {answer:?}");
            };
            let review_by = review_by
                .map(|d| {
                    steward_core::time::end_of_day(&d)
                        .with_context(|| format!("--review-by: a date, YYYY-MM-DD, not {d:?}"))
                })
                .transpose()?;
            // Read before anything is saved: an unreadable file leaves the answer as it was.
            let attachment = match &attach {
                None => AttachmentChange::Keep,
                Some(path) => attachment(path)?,
            };
            let input = SaveAnswer {
                answer: parsed,
                owner,
                note,
                review_by,
            };
            service::save_answer(state, caller, &item, &input, attachment).await?;
            eprintln!(
                "Answered {}: {}{}.",
                Escaped(&item),
                parsed.as_str(),
                if attach.is_some() {
                    ", with the file attached"
                } else {
                    ""
                }
            );
            Ok(())
        }
        PostureCommand::Exception(ExceptionCommand::List { json }) => {
            exceptions(state, caller, json).await
        }
        PostureCommand::Exception(ExceptionCommand::Add {
            check,
            devices,
            reason,
            owner,
            expires,
        }) => {
            let expires_at = steward_core::time::end_of_day(&expires)
                .with_context(|| format!("--expires: a date, YYYY-MM-DD, not {expires:?}"))?;
            let input = NewException {
                check_id: check,
                target: stored_target(state, caller, &devices).await?,
                reason,
                owner,
                expires_at,
            };
            let record = service::add_exception(state, caller, &input).await?;
            println!("{}", record.id);
            eprintln!(
                "Accepted {} failing on {} until {}.",
                Escaped(&record.check_id),
                Escaped(&covers(state, caller, &record.target).await),
                steward_core::time::date(record.expires_at)
            );
            Ok(())
        }
        PostureCommand::Exception(ExceptionCommand::End { id }) => {
            service::revoke_exception(state, caller, &id).await?;
            eprintln!(
                "Ended exception {}; the failure counts again.",
                Escaped(&id)
            );
            Ok(())
        }
    }
}

/// `group:Shop`, `device:till-1` → the stored target (ids), looked up in the caller's scope.
pub(super) async fn stored_target(
    state: &AppState,
    caller: &Caller,
    devices: &str,
) -> anyhow::Result<String> {
    let named = match Target::parse(devices)
        .map_err(|e| anyhow::anyhow!("--devices: {e} (all, device:NAME, group:NAME or tag:NAME)"))?
    {
        Target::All => Named::All,
        Target::Tag(t) => Named::Tag(t),
        Target::Group(g) => Named::Group(g),
        Target::Device(d) => Named::Device(d),
    };
    target_of(state, caller.scope(), &named)
        .await
        .map_err(|e| anyhow::anyhow!("--devices: {e}"))
}

/// A file as an attachment: its name and a media type from its extension (what the console
/// shows and serves it as; the bytes are kept as they are).
fn attachment(path: &std::path::Path) -> anyhow::Result<AttachmentChange> {
    let meta = std::fs::metadata(path).with_context(|| format!("--attach {}", path.display()))?;
    if meta.len() > service::MAX_ATTACHMENT_BYTES as u64 {
        bail!(
            "--attach {}: {} bytes, at most {}",
            path.display(),
            meta.len(),
            service::MAX_ATTACHMENT_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("--attach {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(AttachmentChange::Replace {
        media_type: media_type(&name).into(),
        name,
        bytes,
    })
}

/// The media type of the usual evidence files; anything else is served as bytes to save.
/// (A table of six is all this needs; a MIME database crate would add a dependency for it.)
fn media_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

async fn items(state: &AppState, caller: &Caller, json: bool) -> anyhow::Result<()> {
    let report = service::report(state, caller.scope(), Framework::Checklist, caller.now).await?;
    let manual: Vec<&Item> = report
        .sections
        .iter()
        .flat_map(|s| &s.items)
        .filter(|i| i.kind == "manual")
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&manual)?);
        return Ok(());
    }
    let answers = state.store.posture_answers().await?;
    let mut table = Table::new(&["ID", "STATUS", "OWNER", "REVIEW BY", "TITLE"]);
    for i in manual {
        let review_by = answers
            .iter()
            .find(|a| a.item_id == i.id)
            .map(|a| steward_core::time::date(a.review_by))
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            i.id.clone(),
            i.status.clone(),
            i.owner.clone().unwrap_or_else(|| "-".into()),
            review_by,
            i.title.clone(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

async fn exceptions(state: &AppState, caller: &Caller, json: bool) -> anyhow::Result<()> {
    let report = service::report(state, caller.scope(), Framework::Checklist, caller.now).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.exceptions)?);
        return Ok(());
    }
    if report.exceptions.is_empty() {
        println!("no exceptions");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID", "CHECK", "DEVICES", "STATUS", "EXPIRES", "OWNER", "REASON",
    ]);
    for e in &report.exceptions {
        table.row(vec![
            e.id.clone(),
            e.check_id.clone(),
            covers(state, caller, &e.target).await,
            e.status.clone(),
            steward_core::time::date(e.expires_at),
            e.owner.clone(),
            e.reason.clone(),
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn evidence_files_get_their_media_type() {
        assert_eq!(super::media_type("Invoice.PDF"), "application/pdf");
        assert_eq!(super::media_type("photo.jpeg"), "image/jpeg");
        assert_eq!(
            super::media_type("no-extension"),
            "application/octet-stream"
        );
    }
}
