//! Process names the detector knows: shells and sessions (whose children are a person's
//! separate commands), interpreters, and the office and mail programs a malicious document
//! arrives through.

/// Shells and session processes: their children are a person's separate commands, scored
/// each on its own.
pub(crate) fn is_shell_or_session(name: &str) -> bool {
    matches!(
        name,
        "sh" | "bash"
            | "dash"
            | "zsh"
            | "fish"
            | "ksh"
            | "tcsh"
            | "csh"
            | "busybox"
            | "sshd"
            | "sshd-session"
            | "login"
            | "su"
            | "sudo"
            | "tmux"
            | "tmux: server"
            | "screen"
            | "systemd"
            | "init"
            | "cron"
            | "crond"
            | "containerd-shim"
            | "runc"
            | "nohup"
            | "xargs"
            | "env"
            | "timeout"
    )
}

pub(crate) fn is_shell_or_interpreter(name: &str) -> bool {
    is_shell_or_session(name)
        || name.starts_with("python")
        || matches!(
            name,
            "perl" | "ruby" | "node" | "pwsh" | "powershell" | "wscript" | "cscript" | "osascript"
        )
}

pub(crate) fn is_office_or_mail(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "soffice",
        "libreoffice",
        "oosplash",
        "thunderbird",
        "evolution",
        "winword",
        "excel",
        "outlook",
        "powerpnt",
        "onlyoffice",
        "wps",
        "et",
        "kmail",
        "geary",
        "mutt",
        "claws-mail",
    ]
    .iter()
    .any(|o| n == *o || n.starts_with(&format!("{o}.")))
}
