//! Security posture: checks defined as data (a pack of TOML files; the built-in Linux pack
//! is embedded), each evaluated into one of four states with the evidence seen and the
//! reason. Everything a check reads comes through a [`Host`]: the agent's reads the
//! machine, the tests' reads a recorded fixture, so every check is tested without changing
//! the machine it runs on.
//!
//! The plan this crate starts is in docs/ARCHITECTURE.md ("Posture (issue 12)").

mod combine;
mod eval;
mod host;
mod pack;

pub use eval::{Outcome, State, evaluate};
pub use host::{CommandOutput, FixtureHost, Host, HostError};
pub use pack::{Check, Expect, Pack, PackError, Rule, Rules, Section, Severity, Source, builtin};
