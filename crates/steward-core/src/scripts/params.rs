//! A script's typed parameters and the binding of the values a run is given.
//!
//! A parameter reaches the script as an environment variable (`STEWARD_PARAM_<NAME>`), never
//! spliced into its text, so a value is data whatever characters it holds. The rules here
//! keep names usable as variable names and values usable as environment values.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// At most this many parameters per script.
pub const MAX_PARAMS: usize = 32;
/// At most this many characters in a parameter's name.
pub const MAX_PARAM_NAME_CHARS: usize = 64;
/// At most this many characters in a parameter's value.
pub const MAX_PARAM_VALUE_CHARS: usize = 4_096;
/// At most this many options in a choice.
const MAX_CHOICES: usize = 100;

/// What values a parameter takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Any text (without NUL, which an environment variable cannot hold).
    Text,
    /// A decimal number: `42`, `-3`, `0.5`.
    Number,
    /// One of the listed options, exactly.
    Choice(Vec<String>),
}

/// One parameter of a library script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParamSpec {
    /// `[a-z][a-z0-9_]*`: the script reads it as `STEWARD_PARAM_<NAME>` (upper case).
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    /// Used when a run gives no value.
    #[serde(default)]
    pub default: Option<String>,
}

/// Whether `name` may name a parameter: `[a-z][a-z0-9_]*`, at most
/// [`MAX_PARAM_NAME_CHARS`] characters.
pub fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= MAX_PARAM_NAME_CHARS
}

/// Why a script's parameter list is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "{0:?}: a parameter name is a lowercase letter then lowercase letters, digits or _, \
         at most {MAX_PARAM_NAME_CHARS} characters"
    )]
    Name(String),
    #[error("{0:?}: two parameters have this name")]
    Duplicate(String),
    #[error("{0:?}: a choice lists 1 to {MAX_CHOICES} distinct, non-empty options")]
    Choices(String),
    #[error("{name:?}: the default {reason}")]
    Default { name: String, reason: String },
}

/// Checks a script's parameter list: names, uniqueness, choices, defaults that fit.
pub(super) fn check_specs(specs: &[ParamSpec]) -> Result<(), SpecError> {
    let mut seen = BTreeSet::new();
    for spec in specs {
        if !is_param_name(&spec.name) {
            return Err(SpecError::Name(spec.name.clone()));
        }
        if !seen.insert(spec.name.as_str()) {
            return Err(SpecError::Duplicate(spec.name.clone()));
        }
        if let ParamKind::Choice(options) = &spec.kind {
            let distinct: BTreeSet<&String> = options.iter().collect();
            if options.is_empty()
                || options.len() > MAX_CHOICES
                || distinct.len() != options.len()
                || options.iter().any(|o| o.is_empty())
                || options
                    .iter()
                    .any(|o| value_problem(&spec.kind, o).is_some())
            {
                return Err(SpecError::Choices(spec.name.clone()));
            }
        }
        if let Some(default) = &spec.default
            && let Some(reason) = value_problem(&spec.kind, default)
        {
            return Err(SpecError::Default {
                name: spec.name.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Why the values given for a run do not fit the script's parameters; each names the
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    #[error("{0:?}: the script has no such parameter")]
    Unknown(String),
    #[error("{0:?}: this parameter is required")]
    Missing(String),
    #[error("{name:?}: {reason}")]
    Invalid { name: String, reason: String },
}

/// The values a run passes to the script: each given value checked against its parameter,
/// defaults filled in. A value given for no parameter, a required parameter without a value
/// (given or default) and a value of the wrong kind are refused. An optional parameter
/// without a value is left out (the script sees the variable unset).
pub fn bind_params(
    specs: &[ParamSpec],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, BindError> {
    if let Some(unknown) = given.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
        return Err(BindError::Unknown(unknown.clone()));
    }
    let mut bound = BTreeMap::new();
    for spec in specs {
        let value = match (given.get(&spec.name), &spec.default) {
            (Some(value), _) => value,
            (None, Some(default)) => default,
            (None, None) if spec.required => return Err(BindError::Missing(spec.name.clone())),
            (None, None) => continue,
        };
        if let Some(reason) = value_problem(&spec.kind, value) {
            return Err(BindError::Invalid {
                name: spec.name.clone(),
                reason,
            });
        }
        bound.insert(spec.name.clone(), value.clone());
    }
    Ok(bound)
}

/// What is wrong with `value` for a parameter of `kind`, if anything.
fn value_problem(kind: &ParamKind, value: &str) -> Option<String> {
    if value.chars().count() > MAX_PARAM_VALUE_CHARS {
        return Some(format!("at most {MAX_PARAM_VALUE_CHARS} characters"));
    }
    if value.contains('\0') {
        return Some("NUL characters are not allowed".into());
    }
    match kind {
        ParamKind::Text => None,
        ParamKind::Number if is_decimal(value) => None,
        ParamKind::Number => Some(format!("{value:?} is not a number (such as 42, -3 or 0.5)")),
        ParamKind::Choice(options) if options.iter().any(|o| o == value) => None,
        ParamKind::Choice(options) => Some(format!(
            "{value:?} is not one of the options ({})",
            options.join(", ")
        )),
    }
}

/// `-?digits(.digits)?`: a number as people type it, with nothing a shell or parser could
/// read otherwise (no exponent, no `inf`, no spaces).
fn is_decimal(value: &str) -> bool {
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && fraction.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: ParamKind, required: bool, default: Option<&str>) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind,
            required,
            default: default.map(Into::into),
        }
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn specs() -> Vec<ParamSpec> {
        vec![
            spec("service", ParamKind::Text, true, None),
            spec("retries", ParamKind::Number, false, Some("3")),
            spec(
                "mode",
                ParamKind::Choice(vec!["soft".into(), "hard".into()]),
                false,
                None,
            ),
        ]
    }

    #[test]
    fn names_are_lowercase_identifiers() {
        for good in ["a", "service", "max_age_2"] {
            assert!(is_param_name(good), "{good}");
        }
        for bad in [
            "",
            "Service",
            "2x",
            "_x",
            "a-b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(!is_param_name(bad), "{bad}");
        }
    }

    #[test]
    fn values_are_bound_with_defaults() {
        let bound = bind_params(&specs(), &given(&[("service", "nginx; rm -rf /")])).unwrap();
        assert_eq!(
            bound,
            given(&[("service", "nginx; rm -rf /"), ("retries", "3")])
        );
        let bound = bind_params(
            &specs(),
            &given(&[("service", "x"), ("retries", "-0.5"), ("mode", "hard")]),
        )
        .unwrap();
        assert_eq!(bound["mode"], "hard");
    }

    #[test]
    fn an_unknown_parameter_is_refused_by_name() {
        let err = bind_params(&specs(), &given(&[("service", "x"), ("colour", "red")]));
        assert_eq!(err, Err(BindError::Unknown("colour".into())));
    }

    #[test]
    fn a_missing_required_parameter_is_refused_by_name() {
        let err = bind_params(&specs(), &given(&[("retries", "1")]));
        assert_eq!(err, Err(BindError::Missing("service".into())));
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_refused_by_name() {
        for (name, value) in [
            ("retries", "three"),
            ("retries", "1e9"),
            ("retries", "1."),
            ("retries", ""),
            ("mode", "Soft"),
            ("service", "a\0b"),
        ] {
            let mut values = given(&[("service", "x")]);
            values.insert(name.into(), value.into());
            match bind_params(&specs(), &values) {
                Err(BindError::Invalid { name: n, .. }) => assert_eq!(n, name, "{value:?}"),
                other => panic!("{name}={value:?}: {other:?}"),
            }
        }
        let long = "x".repeat(MAX_PARAM_VALUE_CHARS + 1);
        let err = bind_params(&specs(), &given(&[("service", &long)])).unwrap_err();
        assert!(err.to_string().contains("\"service\""), "{err}");
    }

    #[test]
    fn spec_lists_are_checked() {
        assert_eq!(check_specs(&specs()), Ok(()));
        let dup = vec![
            spec("a", ParamKind::Text, false, None),
            spec("a", ParamKind::Number, false, None),
        ];
        assert_eq!(check_specs(&dup), Err(SpecError::Duplicate("a".into())));
        let empty_choice = vec![spec("a", ParamKind::Choice(vec![]), false, None)];
        assert_eq!(
            check_specs(&empty_choice),
            Err(SpecError::Choices("a".into()))
        );
        let bad_default = vec![spec("n", ParamKind::Number, false, Some("many"))];
        assert!(matches!(
            check_specs(&bad_default),
            Err(SpecError::Default { name, .. }) if name == "n"
        ));
    }
}
