//! Patching: what a device has pending, the policy that decides what installs, and what an
//! install came to. Pure data and rules; the agent lists and installs
//! (`steward-agent::updates`), the server stores and schedules.
//!
//! The maintenance window is decided elsewhere (monitoring's windows): [`plan`] answers
//! "what would install now if the window were open".

mod limits;
mod plan;
mod types;
pub mod verdict;
pub mod window;

pub use limits::{MAX_ADVISORIES, MAX_PENDING_UPDATES, check_listing};
pub use plan::{OthersRule, PatchPolicy, Plan, Reason, RebootRule, SecurityRule, plan};
pub use types::{PackageOutcome, PackageResult, PendingUpdate};
