//! Backups on the agent: the `backup` and `restore` job kinds ([`executor`]), the worker
//! process that runs them ([`worker`]), and the repository on the server as rustic_core's
//! storage ([`remote`] over [`transport`]). The repository format and operations are the
//! `steward-backup` crate's.

pub mod executor;
pub mod remote;
mod transport;
pub mod worker;

pub use executor::WorkerExecutor;
