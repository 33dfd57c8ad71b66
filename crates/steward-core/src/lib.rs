//! Steward's domain core: what a device is, what its inventory holds, how two inventories
//! differ, which differences are worth a line in the device's timeline, and the rules for
//! device status and jobs.
//!
//! Architecture invariant: this crate does no IO. No files, no SQL, no HTTP, no clock and no
//! randomness: time comes in as a [`Timestamp`] parameter, identifiers are made by the caller.
//! Everything here is a pure function of its inputs, so it is tested without a server.

pub mod access;
pub mod alerting;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod checks;
pub mod denials;
pub mod detection;
pub mod device;
pub mod diff;
pub mod enroll;
pub mod fingerprint;
pub mod history;
pub mod inventory;
pub mod job;
pub mod limits;
pub mod metrics;
pub mod password;
pub mod patching;
pub mod posture;
pub mod rate;
pub mod scripts;
pub mod text;
pub mod throttle;
pub mod time;
pub mod variants;
pub mod version;

pub use access::{Action, Role, Scope, TwoFactorPolicy, permits};
pub use changes::{ChangeEvent, ChangeKind, changes_between};
pub use device::{DeviceName, DeviceStatus, InvalidDeviceName};
pub use diff::{ApplyError, InventoryDelta, KeyedDelta};
pub use fingerprint::{CertFingerprint, InvalidFingerprint};
pub use inventory::{
    Account, Filesystem, Hardware, Inventory, InventoryHash, Listener, NetInterface, OsInfo,
    Package, PackageSource, Protocol,
};
pub use job::{JobKind, JobState};
pub use limits::LimitError;
pub use metrics::{DiskIo, FilesystemUsage, Metrics, NetThroughput};
pub use text::Escaped;
pub use time::Timestamp;
