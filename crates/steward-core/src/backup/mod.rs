//! Backups (issue 11, being built): the rules that need no IO. See "Backups (issue 11): the
//! design" in docs/ARCHITECTURE.md for where the rest goes.

pub mod retention;
pub mod schedule;
