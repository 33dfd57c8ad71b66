//! The account databases' modes and owners: readable by all is fine for passwd, never for
//! the password hashes in shadow.

use super::{Verdict, fail, pass, unknown};
use crate::host::Host;

/// `path` must be owned by root, with no mode bit outside `allowed`.
fn at_most(host: &dyn Host, path: &str, allowed: u32) -> Verdict {
    let stat = host
        .stat(path)
        .map_err(|e| unknown("", e.to_string()))?
        .ok_or_else(|| unknown("", format!("{path} is not there")))?;
    let evidence = format!(
        "{path}: mode {:04o}, uid {}, gid {}",
        stat.mode, stat.uid, stat.gid
    );
    let extra = stat.mode & !allowed & 0o7777;
    if stat.uid != 0 {
        fail(
            &evidence,
            format!("{path} is owned by uid {}, not root", stat.uid),
        )
    } else if extra != 0 {
        fail(
            &evidence,
            format!("{path} grants {extra:04o} beyond {allowed:04o}"),
        )
    } else {
        pass(
            &evidence,
            format!("{path} is root's, mode {allowed:04o} or stricter"),
        )
    }
}

pub(crate) fn shadow_permissions(host: &dyn Host) -> Verdict {
    at_most(host, "/etc/shadow", 0o640)
}

pub(crate) fn passwd_permissions(host: &dyn Host) -> Verdict {
    at_most(host, "/etc/passwd", 0o644)
}
