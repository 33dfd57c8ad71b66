//! Desktop settings: autorun of removable media and the screen lock, from GNOME's
//! system-wide dconf keyfiles (/etc/dconf/db/*.d/). A machine without a graphical session
//! installed is not applicable; another desktop than GNOME is unknown.

use super::{Verdict, fail, file, list, not_applicable, pass, unknown};
use crate::eval::Outcome;
use crate::host::{FileStat, Host};

/// Longest idle time before the screen locks.
const MAX_IDLE_SECONDS: i64 = 900;

/// Confirms a GNOME desktop is installed: not applicable without any desktop session,
/// unknown with another desktop.
fn gnome(host: &dyn Host) -> Result<(), Outcome> {
    let mut sessions = Vec::new();
    for dir in ["/usr/share/xsessions", "/usr/share/wayland-sessions"] {
        sessions.extend(
            list(host, dir)?
                .unwrap_or_default()
                .into_iter()
                .filter(|n| n.ends_with(".desktop")),
        );
    }
    if sessions.is_empty() {
        return Err(not_applicable(
            "no session in /usr/share/xsessions or /usr/share/wayland-sessions",
            "no desktop is installed",
        ));
    }
    let shell: Option<FileStat> = host
        .stat("/usr/bin/gnome-shell")
        .map_err(|e| unknown("", e.to_string()))?;
    if shell.is_none() {
        return Err(unknown(
            &format!("desktop sessions: {}", sessions.join(", ")),
            "the desktop is not GNOME; Steward reads only GNOME's settings",
        ));
    }
    Ok(())
}

/// The system-wide value of `key` in `[section]`: the last across the keyfiles of every
/// `/etc/dconf/db/*.d` (in name order), with the file it came from.
fn setting(host: &dyn Host, section: &str, key: &str) -> Result<Option<(String, String)>, Outcome> {
    let root = "/etc/dconf/db";
    let mut found = None;
    for db in list(host, root)?.unwrap_or_default() {
        if !db.ends_with(".d") {
            continue;
        }
        let dir = format!("{root}/{db}");
        // `locks/` is a directory of key names, not a keyfile.
        for name in list(host, &dir)?.unwrap_or_default() {
            if name == "locks" {
                continue;
            }
            let path = format!("{dir}/{name}");
            let Some(text) = file(host, &path)? else {
                continue;
            };
            let mut current = "";
            for line in text.lines().map(str::trim) {
                if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                    current = s;
                } else if current == section
                    && let Some((k, v)) = line.split_once('=')
                    && k.trim() == key
                {
                    found = Some((format!("{path}: [{section}] {}", line), v.trim().to_owned()));
                }
            }
        }
    }
    Ok(found)
}

/// GVariant text: `uint32 300` or `300`.
fn number(value: &str) -> Option<i64> {
    value.split_whitespace().last()?.parse().ok()
}

pub(crate) fn autorun_off(host: &dyn Host) -> Verdict {
    gnome(host)?;
    match setting(host, "org/gnome/desktop/media-handling", "autorun-never")? {
        Some((said, value)) if value == "true" => {
            pass(&said, "GNOME never runs software from inserted media")
        }
        Some((said, _)) => fail(&said, "GNOME may offer to run software from inserted media"),
        None => fail(
            "autorun-never is not set under /etc/dconf/db/*.d (GNOME's default: false)",
            "GNOME may offer to run software from inserted media",
        ),
    }
}

pub(crate) fn screen_lock(host: &dyn Host) -> Verdict {
    gnome(host)?;
    let saver = "org/gnome/desktop/screensaver";
    let lock = setting(host, saver, "lock-enabled")?;
    let idle = setting(host, "org/gnome/desktop/session", "idle-delay")?;
    let delay = setting(host, saver, "lock-delay")?;
    // GNOME's defaults: lock on, blank after 300 s idle, lock as soon as blank.
    let locks = lock.as_ref().is_none_or(|(_, v)| v == "true");
    let idle_seconds = idle.as_ref().map_or(Some(300), |(_, v)| number(v));
    let delay_seconds = delay.as_ref().map_or(Some(0), |(_, v)| number(v));
    let evidence = [
        lock.map_or("lock-enabled not set (default true)".into(), |(s, _)| s),
        idle.map_or("idle-delay not set (default 300)".into(), |(s, _)| s),
        delay.map_or("lock-delay not set (default 0)".into(), |(s, _)| s),
    ]
    .join("; ");
    let (Some(idle_seconds), Some(delay_seconds)) = (idle_seconds, delay_seconds) else {
        return Err(unknown(&evidence, "a delay is not a number"));
    };
    let after = idle_seconds + delay_seconds;
    if !locks {
        fail(&evidence, "the screen never locks by itself")
    } else if idle_seconds == 0 {
        fail(&evidence, "the screen never blanks, so it never locks")
    } else if after > MAX_IDLE_SECONDS {
        fail(
            &evidence,
            format!("the screen locks after {after} s idle, more than {MAX_IDLE_SECONDS}"),
        )
    } else {
        pass(&evidence, format!("the screen locks after {after} s idle"))
    }
}
