//! Remote scripts (issue 13): a library script with its typed parameters, the rules a script
//! and a run's parameters must follow, and the **signed run** ([`signed`]) — the order the
//! server signs and the verification an agent does before it runs anything.
//!
//! Nothing here decides *whether* a device runs scripts: that is the device's own setting,
//! read by the agent from its own config file. The core only says what a well-formed script
//! is and whether an order is genuinely the server's.

mod params;
pub mod signed;

pub use params::{
    BindError, MAX_PARAM_NAME_CHARS, MAX_PARAM_VALUE_CHARS, MAX_PARAMS, ParamKind, ParamSpec,
    bind_params, is_param_name,
};
pub use signed::{
    KeyError, MAX_TIMEOUT_SECS, Refused, RunOrder, SigningKey, canonical_bytes, content_hash,
    decode_public_key, encode_public_key, sign, verify,
};

use serde::{Deserialize, Serialize};

/// The program a script's content is given to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Interpreter {
    /// `/bin/sh`: POSIX shell.
    Sh,
    /// `python3`, found on the device's PATH.
    Python3,
}

impl Interpreter {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Interpreter> {
        s.parse().ok()
    }
    /// The platforms this interpreter is offered on.
    pub fn runs_on(self, platform: Platform) -> bool {
        match (self, platform) {
            (Interpreter::Sh | Interpreter::Python3, Platform::Linux) => true,
        }
    }
}

/// The operating system a script is written for. Linux first; Windows (PowerShell) and
/// macOS (zsh) will sit beside it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Platform {
    Linux,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Platform> {
        s.parse().ok()
    }
}

/// A script of the library, as an administrator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub interpreter: Interpreter,
    pub params: Vec<ParamSpec>,
    pub content: String,
}

/// At most this many characters in a script's name.
pub const MAX_NAME_CHARS: usize = 100;
/// At most this many characters in a script's description.
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// At most this many bytes of content: a script, not a payload.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;

/// Why a script is not accepted into the library; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("name: 1 to {MAX_NAME_CHARS} characters, without control characters")]
    Name,
    #[error("description: at most {MAX_DESCRIPTION_CHARS} characters")]
    Description,
    #[error("content: must not be empty")]
    EmptyContent,
    #[error("content: {0} bytes, at most {MAX_CONTENT_BYTES} allowed")]
    ContentTooLarge(usize),
    #[error("content: NUL characters are not allowed in a script")]
    ContentNul,
    #[error("interpreter: {interpreter} does not run on {platform}")]
    Interpreter {
        interpreter: &'static str,
        platform: &'static str,
    },
    #[error("params: at most {MAX_PARAMS} parameters")]
    TooManyParams,
    #[error("params: {0}")]
    Param(#[from] params::SpecError),
}

impl Script {
    /// Whether the script may enter the library: a sensible name, bounded content, an
    /// interpreter of its platform and well-formed parameters.
    pub fn check(&self) -> Result<(), ScriptError> {
        let name_chars = self.name.chars().count();
        if self.name.trim().is_empty()
            || name_chars > MAX_NAME_CHARS
            || self.name.chars().any(char::is_control)
        {
            return Err(ScriptError::Name);
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ScriptError::Description);
        }
        if self.content.trim().is_empty() {
            return Err(ScriptError::EmptyContent);
        }
        if self.content.len() > MAX_CONTENT_BYTES {
            return Err(ScriptError::ContentTooLarge(self.content.len()));
        }
        if self.content.contains('\0') {
            return Err(ScriptError::ContentNul);
        }
        if !self.interpreter.runs_on(self.platform) {
            return Err(ScriptError::Interpreter {
                interpreter: self.interpreter.as_str(),
                platform: self.platform.as_str(),
            });
        }
        if self.params.len() > MAX_PARAMS {
            return Err(ScriptError::TooManyParams);
        }
        params::check_specs(&self.params)?;
        Ok(())
    }

    /// The SHA-256 of the content, as the signed run and the audit log name it.
    pub fn content_hash(&self) -> String {
        content_hash(&self.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script {
            name: "Restart nginx".into(),
            description: "Restarts the web server".into(),
            platform: Platform::Linux,
            interpreter: Interpreter::Sh,
            params: vec![ParamSpec {
                name: "service".into(),
                kind: ParamKind::Text,
                required: true,
                default: None,
            }],
            content: "systemctl restart \"$STEWARD_PARAM_SERVICE\"\n".into(),
        }
    }

    #[test]
    fn a_sensible_script_passes() {
        assert_eq!(script().check(), Ok(()));
        assert_eq!(script().content_hash().len(), 64);
    }

    #[test]
    fn names_are_one_to_a_hundred_characters() {
        let mut s = script();
        s.name = "   ".into();
        assert_eq!(s.check(), Err(ScriptError::Name));
        s.name = "x".repeat(101);
        assert_eq!(s.check(), Err(ScriptError::Name));
        s.name = "é".repeat(100);
        assert_eq!(s.check(), Ok(()));
        s.name = "two\nlines".into();
        assert_eq!(s.check(), Err(ScriptError::Name));
    }

    #[test]
    fn content_is_bounded_and_not_empty() {
        let mut s = script();
        s.content = "\n".into();
        assert_eq!(s.check(), Err(ScriptError::EmptyContent));
        s.content = "#".repeat(MAX_CONTENT_BYTES);
        assert_eq!(s.check(), Ok(()));
        s.content.push('#');
        assert_eq!(
            s.check(),
            Err(ScriptError::ContentTooLarge(MAX_CONTENT_BYTES + 1))
        );
        s.content = "echo a\0b".into();
        assert_eq!(s.check(), Err(ScriptError::ContentNul));
    }

    #[test]
    fn bad_parameter_specs_are_named() {
        let mut s = script();
        s.params[0].name = "Service".into();
        let err = s.check().unwrap_err().to_string();
        assert!(err.contains("\"Service\""), "{err}");
        s.params = (0..=MAX_PARAMS)
            .map(|i| ParamSpec {
                name: format!("p{i}"),
                kind: ParamKind::Text,
                required: false,
                default: None,
            })
            .collect();
        assert_eq!(s.check(), Err(ScriptError::TooManyParams));
    }

    #[test]
    fn interpreters_and_platforms_have_stable_names() {
        assert_eq!(Interpreter::Python3.as_str(), "python3");
        assert_eq!(Interpreter::parse("sh"), Some(Interpreter::Sh));
        assert_eq!(Interpreter::parse("bash"), None);
        assert_eq!(Platform::parse("linux"), Some(Platform::Linux));
    }
}
