//! How a pack's `rule` is read: `min` and `max` with or without a key, and `any_of` /
//! `all_of` lists, with the refusals they add (file, line and reason).

use steward_posture::{Decider, Expect, Pack, PackError, Rule, Source};

/// A user's pack of one check; each case replaces its `rule` line (line 9).
const GOOD: &str = r#"
[[check]]
id = "aslr-full"
title = "ASLR"
section = "security"
severity = "medium"
rationale = "r"
remediation = "m"
rule = { file = "/proc/sys/kernel/randomize_va_space", allowed = ["2"] }
"#;

fn rule_of(text: &str) -> Result<Decider, PackError> {
    let pack = GOOD.replace(
        r#"rule = { file = "/proc/sys/kernel/randomize_va_space", allowed = ["2"] }"#,
        text,
    );
    Pack::parse([("mine.toml", pack.as_str())]).map(|p| p.checks[0].rule.clone())
}

fn file(path: &str, expect: Expect) -> Rule {
    Rule {
        source: Source::File(path.into()),
        key: None,
        expect,
    }
}

#[test]
fn min_and_max_read_a_number_with_or_without_a_key() {
    let aslr = "/proc/sys/kernel/randomize_va_space";
    assert_eq!(
        rule_of(&format!(r#"rule = {{ file = "{aslr}", min = 1 }}"#)).unwrap(),
        Decider::Rule(file(aslr, Expect::AtLeast(1)))
    );
    assert_eq!(
        rule_of(&format!(r#"rule = {{ file = "{aslr}", max = 2 }}"#)).unwrap(),
        Decider::Rule(file(aslr, Expect::AtMost(2)))
    );
    let keyed = rule_of(r#"rule = { command = "sshd -T", key = "maxsessions", min = -3 }"#);
    assert_eq!(
        keyed.unwrap(),
        Decider::Rule(Rule {
            source: Source::Command("sshd -T".into()),
            key: Some("maxsessions".into()),
            expect: Expect::AtLeast(-3),
        })
    );
    for (text, says) in [
        (
            format!(r#"rule = {{ file = "{aslr}", min = 1, max = 2 }}"#),
            "give one of allowed, max or min",
        ),
        (
            format!(r#"rule = {{ file = "{aslr}", min = "one" }}"#),
            "invalid type",
        ),
        (format!(r#"rule = {{ file = "{aslr}" }}"#), "needs allowed"),
    ] {
        let error = rule_of(&text).unwrap_err();
        assert!(error.reason.contains(says), "{error}");
    }
}

#[test]
fn any_of_and_all_of_hold_a_flat_list_of_two_or_more_rules() {
    let either = r#"rule = { any_of = [
{ file = "/sys/module/apparmor/parameters/enabled", allowed = ["Y"] },
{ file = "/sys/fs/selinux/enforce", allowed = ["1"] },
] }"#;
    assert_eq!(
        rule_of(either).unwrap(),
        Decider::AnyOf(vec![
            file(
                "/sys/module/apparmor/parameters/enabled",
                Expect::OneOf(vec!["Y".into()])
            ),
            file("/sys/fs/selinux/enforce", Expect::OneOf(vec!["1".into()])),
        ])
    );
    let both = either.replace("any_of", "all_of");
    assert!(matches!(rule_of(&both).unwrap(), Decider::AllOf(r) if r.len() == 2));

    let refused = [
        (
            r#"rule = { any_of = [{ file = "/a", allowed = ["1"] }] }"#.to_owned(),
            "any_of needs at least two rules",
        ),
        (
            r#"rule = { all_of = [{ file = "/a", allowed = ["1"] }, { file = "b", allowed = ["1"] }] }"#
                .to_owned(),
            "all_of[2] file \"b\" must be an absolute path",
        ),
        (
            r#"rule = { any_of = [{ file = "/a", min = 1 }, { any_of = [] }] }"#.to_owned(),
            "any_of[2] any_of and all_of hold rules; they cannot be nested",
        ),
        (
            r#"rule = { file = "/a", any_of = [{ file = "/a", min = 1 }, { file = "/b", min = 1 }] }"#
                .to_owned(),
            "any_of stands alone",
        ),
        (
            r#"rule = { any_of = [{ file = "/a", min = 1 }, { file = "/b", min = 1 }], all_of = [] }"#
                .to_owned(),
            "give any_of or all_of, not both",
        ),
        (
            r#"rule = { any_of = [{ file = "/a", min = 1 }, { file = "/b", mni = 1 }] }"#
                .to_owned(),
            "unknown field `mni`",
        ),
    ];
    for (text, says) in refused {
        let error = rule_of(&text).unwrap_err();
        assert_eq!(error.file, "mine.toml");
        assert!(error.reason.contains(says), "{error}");
        // A malformed field is pointed at where it is written (the rule, line 9); a
        // rule that reads wrongly, at its check's id (line 3).
        let line = if says.starts_with("unknown field") {
            9
        } else {
            3
        };
        assert_eq!(error.line, line, "{error}");
    }
    // In a list written over several lines, the line of the field itself.
    let error = rule_of(&either.replace(r#"allowed = ["1"]"#, r#"alowed = ["1"]"#));
    assert_eq!(error.unwrap_err().line, 11);
}
