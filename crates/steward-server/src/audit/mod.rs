//! Writing to the audit log from the server and the CLI, and verifying its chain. Entries
//! name who, what, to what, from where — never a secret (tokens and passwords are not passed
//! in, only names and ids).

pub mod api;
pub mod console;

use steward_core::audit::{AuditFacts, ChainBreak, ChainVerifier};
use steward_core::{Action, Timestamp};
use steward_store::Store;
use utoipa_axum::routes;

use crate::web::routes::{Access, Routes};

/// Appends an entry. A failure to write the audit log is logged loudly; the action it
/// records has already happened and is not undone.
pub async fn record(
    store: &Store,
    at: Timestamp,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    source: &str,
) {
    let facts = AuditFacts {
        at,
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.to_string(),
        source: source.to_string(),
    };
    if let Err(e) = store.append_audit(&facts).await {
        tracing::error!(error = %e, action, actor, "could not write the audit log");
    }
}

/// One page of the log, newest first, optionally one action's or one actor's entries, and
/// how many match. Reading it needs the audit permission.
pub async fn page(
    state: &crate::state::AppState,
    caller: &crate::service::Caller,
    action: Option<&str>,
    actor: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<steward_store::AuditRecord>, u64), AuditError> {
    caller.require(Action::ViewAudit)?;
    let action = action.filter(|a| !a.is_empty());
    let actor = actor.filter(|a| !a.is_empty());
    Ok(state.store.audit_page(action, actor, offset, limit).await?)
}

/// Why reading the log was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Denied(#[from] crate::service::Denied),
    #[error(transparent)]
    Store(#[from] steward_store::StoreError),
}

impl crate::service::DomainError for AuditError {
    fn refusal(&self) -> crate::service::Refusal {
        match self {
            AuditError::Denied(d) => crate::service::DomainError::refusal(d),
            AuditError::Store(e) => crate::service::DomainError::refusal(e),
        }
    }
}

/// Checks the whole chain; returns how many entries verified.
pub async fn verify(store: &Store) -> anyhow::Result<Result<i64, ChainBreak>> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_after(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            if let Err(e) = verifier.check(r.seq, &r.prev_hash, &r.hash, &r.facts) {
                return Ok(Err(e));
            }
        }
    }
    Ok(Ok(verifier.verified()))
}

/// The log as CSV (RFC 4180 quoting), oldest first, optionally one action only.
pub async fn export_csv(
    store: &Store,
    action: Option<&str>,
    out: &mut impl std::io::Write,
) -> anyhow::Result<u64> {
    writeln!(out, "seq,time_ms,actor,action,target,detail,source,hash")?;
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = store.audit_after(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in page
            .iter()
            .filter(|r| action.is_none_or(|a| r.facts.action == a))
        {
            let f = &r.facts;
            writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                r.seq,
                f.at.0,
                csv(&f.actor),
                csv(&f.action),
                csv(&f.target),
                csv(&f.detail),
                csv(&f.source),
                r.hash
            )?;
            n += 1;
        }
    }
    Ok(n)
}

fn csv(field: &str) -> String {
    // Quote always; double inner quotes. A leading formula character is prefixed so that a
    // spreadsheet does not execute attacker-chosen text (e.g. a username "=HYPERLINK(…)";
    // device names and tags come from agents). Tab and carriage return count too (OWASP).
    // Control and bidi characters are escaped (`\u{…}`): a newline would start a forged row
    // for tools that do not honour quoting, and escape sequences reach the terminal of
    // whoever runs `steward admin audit export`.
    let guarded = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{}", steward_core::Escaped(field))
    } else {
        steward_core::Escaped(field).to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

pub fn routes() -> Routes {
    Routes::new()
        .api(Access::Requires(Action::ViewAudit), routes!(api::audit))
        .api(Access::Requires(Action::ViewAudit), routes!(api::audit_csv))
        .get("/audit", Access::Requires(Action::ViewAudit), console::page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(super::csv("a\"b"), "\"a\"\"b\"");
        assert_eq!(super::csv("=cmd()"), "\"'=cmd()\"");
        assert_eq!(super::csv("\t=cmd()"), "\"'\\u{9}=cmd()\"");
        assert_eq!(
            super::csv("a\n1,\"forged\"\x1b[2J\u{202E}"),
            "\"a\\u{a}1,\"\"forged\"\"\\u{1b}[2J\\u{202e}\""
        );
    }
}
