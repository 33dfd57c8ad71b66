//! Backups: the rules that need no IO (retention, schedules, the verdicts behind backup alerts). See "Backups (issue 11): the
//! design" in docs/ARCHITECTURE.md for where the rest goes.

pub mod drill;
pub mod retention;
pub mod schedule;
pub mod verdict;
