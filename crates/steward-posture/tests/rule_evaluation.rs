//! The rule's evaluation beyond one value: `min`, `any_of`, `all_of`, and a command that
//! failed without a word. Each case is a small pack over a recorded machine made here.

use steward_posture::{FixtureHost, Outcome, Pack, State, builtin, evaluate};

type Tested = Result<(), Box<dyn std::error::Error>>;

/// Evaluates a one-check pack with `rule` on a machine with `files` and `commands.toml`.
fn outcome(
    rule: &str,
    files: &[(&str, &str)],
    commands: &str,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let pack = format!(
        "[[check]]\nid = \"c\"\ntitle = \"t\"\nsection = \"security\"\nseverity = \"low\"\n\
         rationale = \"r\"\nremediation = \"m\"\nrule = {rule}\n"
    );
    let pack = Pack::parse([("test.toml", pack.as_str())])?;
    let dir = tempfile::tempdir()?;
    for (path, text) in files {
        let inside = dir.path().join("root").join(path.trim_start_matches('/'));
        if let Some(parent) = inside.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(inside, text)?;
    }
    std::fs::write(dir.path().join("commands.toml"), commands)?;
    let host = FixtureHost::open(dir.path())?;
    let check = pack.checks.first().ok_or("the pack has its check")?;
    Ok(evaluate(check, &host))
}

const PTRACE: &str = "/proc/sys/kernel/yama/ptrace_scope";

#[test]
fn min_passes_at_or_above_and_fails_below() -> Tested {
    let rule = format!(r#"{{ file = "{PTRACE}", min = 1 }}"#);
    for (value, state) in [
        ("1\n", State::Pass),
        ("3\n", State::Pass),
        ("0\n", State::Fail),
        ("yes\n", State::Unknown),
    ] {
        assert_eq!(
            outcome(&rule, &[(PTRACE, value)], "")?.state,
            state,
            "{value}"
        );
    }
    Ok(())
}

const APPARMOR: &str = "/sys/module/apparmor/parameters/enabled";
const SELINUX: &str = "/sys/fs/selinux/enforce";
const EITHER: &str = r#"{ any_of = [
    { file = "/sys/module/apparmor/parameters/enabled", allowed = ["Y"] },
    { file = "/sys/fs/selinux/enforce", allowed = ["1"] },
] }"#;

#[test]
fn any_of_passes_on_one_alternative_and_an_absent_one_does_not_hold() -> Tested {
    let apparmor = outcome(EITHER, &[(APPARMOR, "Y\n")], "")?;
    assert_eq!(apparmor.state, State::Pass, "{apparmor:?}");
    assert_eq!(apparmor.evidence, format!("{APPARMOR}: Y"));
    let selinux = outcome(EITHER, &[(APPARMOR, "N\n"), (SELINUX, "1")], "")?;
    assert_eq!(selinux.state, State::Pass, "{selinux:?}");
    assert!(selinux.reason.starts_with(SELINUX), "{selinux:?}");

    let permissive = outcome(EITHER, &[(APPARMOR, "N\n"), (SELINUX, "0")], "")?;
    assert_eq!(permissive.state, State::Fail, "{permissive:?}");
    assert_eq!(
        permissive.evidence,
        format!("{APPARMOR}: N; {SELINUX}: 0"),
        "both readings are shown"
    );
    let neither = outcome(EITHER, &[], "")?;
    assert_eq!(neither.state, State::Fail, "{neither:?}");
    assert!(
        neither.reason.contains("is not on this machine"),
        "{neither:?}"
    );
    Ok(())
}

#[test]
fn any_of_is_unknown_when_nothing_passes_and_one_could_not_be_read() -> Tested {
    let rule = r#"{ any_of = [
        { file = "/proc/sys/fs/suid_dumpable", allowed = ["0"] },
        { command = "sshd -T", key = "x11forwarding", allowed = ["no"] },
    ] }"#;
    let failed = "[[command]]\nrun = \"sshd -T\"\nstatus = 255\n";
    let unread = outcome(rule, &[("/proc/sys/fs/suid_dumpable", "1")], failed)?;
    assert_eq!(unread.state, State::Unknown, "{unread:?}");
    let answered = "[[command]]\nrun = \"sshd -T\"\nstdout = \"x11forwarding no\\n\"\n";
    let passed = outcome(rule, &[("/proc/sys/fs/suid_dumpable", "1")], answered)?;
    assert_eq!(passed.state, State::Pass, "{passed:?}");
    Ok(())
}

const ALL: &str = "/proc/sys/net/ipv4/conf/all/accept_redirects";
const DEFAULT: &str = "/proc/sys/net/ipv4/conf/default/accept_redirects";
const BOTH: &str = r#"{ all_of = [
    { file = "/proc/sys/net/ipv4/conf/all/accept_redirects", allowed = ["0"] },
    { file = "/proc/sys/net/ipv4/conf/default/accept_redirects", allowed = ["0"] },
] }"#;

#[test]
fn all_of_needs_every_rule_and_names_the_one_that_fails() -> Tested {
    let both = outcome(BOTH, &[(ALL, "0"), (DEFAULT, "0")], "")?;
    assert_eq!(both.state, State::Pass, "{both:?}");
    assert_eq!(both.evidence, format!("{ALL}: 0; {DEFAULT}: 0"));
    assert_eq!(both.reason, "all 2 requirements hold");

    let one = outcome(BOTH, &[(ALL, "0"), (DEFAULT, "1")], "")?;
    assert_eq!(one.state, State::Fail, "{one:?}");
    assert_eq!(one.evidence, format!("{DEFAULT}: 1"));
    assert!(one.reason.starts_with(DEFAULT), "{one:?}");

    // A failure is a failure even when another reading is missing.
    let failed_and_missing = outcome(BOTH, &[(ALL, "1")], "")?;
    assert_eq!(failed_and_missing.state, State::Fail);

    let missing = outcome(BOTH, &[(ALL, "0")], "")?;
    assert_eq!(missing.state, State::Unknown, "{missing:?}");
    assert!(
        missing.reason.contains(DEFAULT) && !missing.reason.contains(ALL),
        "only what is undecided is named: {missing:?}"
    );
    Ok(())
}

#[test]
fn a_command_that_fails_and_prints_nothing_is_unknown_not_an_empty_value() -> Tested {
    let rule = r#"{ command = "timedatectl show -p NTPSynchronized --value", allowed = ["yes"] }"#;
    let recorded = |stdout: &str, status: i32| {
        format!(
            "[[command]]\nrun = \"timedatectl show -p NTPSynchronized --value\"\n\
             stdout = \"{stdout}\"\nstatus = {status}\n"
        )
    };
    let container = outcome(rule, &[], &recorded("", 1))?;
    assert_eq!(container.state, State::Unknown, "{container:?}");
    assert!(container.reason.contains("exit status 1"), "{container:?}");
    // A non-zero status with an answer is still an answer (`systemctl is-active` exits 3
    // for "inactive").
    let answered = outcome(rule, &[], &recorded("no\\n", 3))?;
    assert_eq!(answered.state, State::Fail, "{answered:?}");
    assert_eq!(
        outcome(rule, &[], &recorded("yes\\n", 0))?.state,
        State::Pass
    );
    Ok(())
}

#[test]
fn a_login_grace_time_of_zero_is_no_limit_and_fails() -> Tested {
    let pack = builtin();
    let check = pack
        .checks
        .iter()
        .find(|c| c.id == "ssh-login-grace-time")
        .ok_or("the built-in pack has ssh-login-grace-time")?;
    let dir = tempfile::tempdir()?;
    for (seconds, state) in [(0, State::Fail), (30, State::Pass), (61, State::Fail)] {
        std::fs::write(
            dir.path().join("commands.toml"),
            format!("[[command]]\nrun = \"sshd -T\"\nstdout = \"logingracetime {seconds}\\n\"\n"),
        )?;
        let outcome = evaluate(check, &FixtureHost::open(dir.path())?);
        assert_eq!(outcome.state, state, "{seconds}: {outcome:?}");
        assert_eq!(
            outcome.evidence,
            format!("`sshd -T`: logingracetime {seconds}")
        );
    }
    Ok(())
}
