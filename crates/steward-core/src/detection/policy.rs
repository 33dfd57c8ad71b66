//! The detection policy: what a group's or tag's devices protect and how they respond.
//! The server picks the most specific policy for a device (device, then group, then tag,
//! then all) and sends it to the agent, which applies it.

use serde::{Deserialize, Serialize};

/// Most folders one policy protects.
pub const MAX_FOLDERS: usize = 32;
/// Longest folder path.
pub const MAX_FOLDER_LEN: usize = 1024;

/// What a device protects and which responses are automatic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DetectionPolicy {
    /// Folders watched, each with everything under it. Absolute paths.
    pub folders: Vec<String>,
    /// Whether canary files are placed in each protected folder (sorting first and last,
    /// never hidden). Touching one is decisive.
    #[serde(default = "yes")]
    pub canaries: bool,
    /// Stop (SIGSTOP) the offending process tree at once. It stays frozen until a person
    /// kills or releases it.
    #[serde(default)]
    pub auto_stop: bool,
    /// Cut the device off from the network, except for the Steward server, at once.
    #[serde(default)]
    pub auto_isolate: bool,
}

fn yes() -> bool {
    true
}

impl Default for DetectionPolicy {
    /// Home directories, shares and web roots; canaries placed; responses left to a person
    /// (the opt-in: an automatic response is chosen per group).
    fn default() -> Self {
        DetectionPolicy {
            folders: DEFAULT_FOLDERS.iter().map(|s| s.to_string()).collect(),
            canaries: true,
            auto_stop: false,
            auto_isolate: false,
        }
    }
}

/// Where a small business keeps its files on a Linux machine: people's homes, shares
/// (Samba's and NFS's usual `/srv`), and web roots.
pub const DEFAULT_FOLDERS: &[&str] = &["/home", "/root", "/srv", "/var/www"];

/// Folders that hold no files of anyone's: kernel and runtime views.
const NOT_FOLDERS: &[&str] = &["/proc", "/sys", "/dev", "/run"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a detection policy protects at least one folder")]
    NoFolders,
    #[error("a detection policy protects at most {MAX_FOLDERS} folders, not {0}")]
    TooManyFolders(usize),
    #[error("{0:?} is not a folder to protect: write an absolute path such as /srv/share")]
    NotAbsolute(String),
    #[error("{0:?} is not a folder to protect: `..`, `.` and empty parts are not allowed")]
    NotNormal(String),
    #[error("{0:?} holds no one's files (it is a kernel or runtime view)")]
    SystemView(String),
    #[error("a folder's path is at most {MAX_FOLDER_LEN} characters")]
    TooLong,
}

impl DetectionPolicy {
    /// Checks the policy and tidies its folders (a trailing `/` dropped, duplicates and
    /// folders inside another listed folder removed, sorted).
    pub fn normalised(mut self) -> Result<DetectionPolicy, PolicyError> {
        if self.folders.is_empty() {
            return Err(PolicyError::NoFolders);
        }
        if self.folders.len() > MAX_FOLDERS {
            return Err(PolicyError::TooManyFolders(self.folders.len()));
        }
        let mut folders = Vec::with_capacity(self.folders.len());
        for raw in &self.folders {
            folders.push(normal_folder(raw)?);
        }
        folders.sort();
        folders.dedup();
        let nested: Vec<String> = folders
            .iter()
            .filter(|f| {
                folders
                    .iter()
                    .any(|outer| outer != *f && is_within(f, outer))
            })
            .cloned()
            .collect();
        folders.retain(|f| !nested.contains(f));
        self.folders = folders;
        Ok(self)
    }

    /// Whether `path` lies in a protected folder.
    pub fn protects(&self, path: &str) -> bool {
        self.folders.iter().any(|f| is_within(path, f))
    }

    /// The automatic responses, in words (`stop the process`, `none`).
    pub fn describe_responses(&self) -> String {
        match (self.auto_stop, self.auto_isolate) {
            (false, false) => "alert only".into(),
            (true, false) => "stop the process".into(),
            (false, true) => "isolate the device".into(),
            (true, true) => "stop the process and isolate the device".into(),
        }
    }
}

fn normal_folder(raw: &str) -> Result<String, PolicyError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_FOLDER_LEN {
        return Err(PolicyError::TooLong);
    }
    if !raw.starts_with('/') || raw.chars().any(char::is_control) {
        return Err(PolicyError::NotAbsolute(raw.chars().take(80).collect()));
    }
    let trimmed = if raw.len() > 1 {
        raw.trim_end_matches('/')
    } else {
        raw
    };
    if trimmed.len() > 1
        && trimmed[1..]
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(PolicyError::NotNormal(raw.chars().take(80).collect()));
    }
    if NOT_FOLDERS.iter().any(|v| is_within(trimmed, v)) {
        return Err(PolicyError::SystemView(trimmed.into()));
    }
    Ok(trimmed.to_string())
}

/// Whether `path` is `folder` or lies under it (`/srv/a` is within `/srv`, `/srvx` is not).
pub fn is_within(path: &str, folder: &str) -> bool {
    if folder == "/" {
        return path.starts_with('/');
    }
    path == folder || (path.starts_with(folder) && path.as_bytes().get(folder.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(folders: &[&str]) -> DetectionPolicy {
        DetectionPolicy {
            folders: folders.iter().map(|s| s.to_string()).collect(),
            ..DetectionPolicy::default()
        }
    }

    #[test]
    fn folders_are_tidied() {
        let p = policy(&["/srv/share/", "/home", "/srv", "/home/anna"])
            .normalised()
            .unwrap();
        assert_eq!(p.folders, ["/home", "/srv"]);
        assert!(p.protects("/srv/share/a.docx"));
        assert!(p.protects("/srv"));
        assert!(!p.protects("/srvx/a"));
        assert!(!p.protects("/etc/passwd"));
    }

    #[test]
    fn bad_folders_are_refused_clearly() {
        assert_eq!(policy(&[]).normalised(), Err(PolicyError::NoFolders));
        assert!(matches!(
            policy(&["srv"]).normalised(),
            Err(PolicyError::NotAbsolute(_))
        ));
        assert!(matches!(
            policy(&["/srv/../etc"]).normalised(),
            Err(PolicyError::NotNormal(_))
        ));
        assert!(matches!(
            policy(&["/proc/1"]).normalised(),
            Err(PolicyError::SystemView(_))
        ));
        let many: Vec<String> = (0..40).map(|i| format!("/srv/{i}")).collect();
        let p = DetectionPolicy {
            folders: many,
            ..DetectionPolicy::default()
        };
        assert_eq!(p.normalised(), Err(PolicyError::TooManyFolders(40)));
        assert!(
            PolicyError::NotAbsolute("srv".into())
                .to_string()
                .contains("absolute path")
        );
    }

    #[test]
    fn the_default_protects_homes_shares_and_web_roots_and_only_alerts() {
        let p = DetectionPolicy::default().normalised().unwrap();
        assert!(p.protects("/home/anna/Documents/offer.docx"));
        assert!(p.protects("/var/www/html/index.php"));
        assert!(p.canaries);
        assert_eq!(p.describe_responses(), "alert only");
    }
}
