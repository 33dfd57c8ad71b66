//! Patching, scripts and job batches (migration 0019): the updates each device lists as
//! pending and when it last listed them, patch policies and approvals, the script library
//! with every version kept, and the batches that group the jobs one request queued.
//!
//! The store keeps what the server's services decided and interprets none of it: policies,
//! targets, windows, platforms, interpreters and parameter specifications are text or JSON
//! they validated. What lives here are the guarantees: a device's pending updates are
//! replaced as a whole by each listing, keeping when each was first seen and refusing a late
//! listing ([`Store::replace_pending_updates`]); a script's versions are never rewritten and
//! two concurrent edits cannot silently overwrite each other ([`Store::update_script`]); a
//! batch and all its jobs are queued together or not at all ([`Store::create_batch`]).

mod approvals;
mod batches;
mod policies;
mod scripts;
mod updates;

pub use approvals::PatchApprovalRecord;
pub use batches::BatchRecord;
pub use policies::{PatchPolicyRecord, PatchPolicyWrite};
pub use scripts::{ScriptRecord, ScriptVersionRecord, ScriptWrite};
pub use updates::{PendingUpdateRecord, UpdateStatusRecord, UpdateSummary};

use crate::StoreError;

/// A unique name taken is `Conflict` (naming what is taken); the rest as usual.
fn name_taken(e: sqlx::Error, what: &str, name: &str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("a {what} named {name} already exists"))
        }
        e => e.into(),
    }
}

/// A missing device is `NotFound`; the rest as usual.
fn device_missing(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => e.into(),
    }
}
