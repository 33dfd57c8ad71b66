//! Remote scripts on the device (issue 13): the device's own opt-in ([`policy`]) and the
//! `run_script` job ([`executor`]), which runs only content whose signed order verifies
//! against the key pinned at enrollment, and runs it in a process group the timeout stops
//! as a whole ([`process`]).
//!
//! Unix only: the process group, the pipe and the file modes are Unix's. Windows
//! (PowerShell) will get its own runner beside it.

pub mod executor;
pub mod policy;
pub mod process;

pub use executor::{KILL_GRACE, OUTPUT_CAP_BYTES, RunScriptExecutor};
pub use policy::{CONFIG_FILE, SCRIPT_KEY_FILE, ScriptPolicy, pin_script_key, pinned_script_key};
pub use steward_proto::agent::RunScriptParams;
