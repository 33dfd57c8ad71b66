//! Security posture: checks defined as data (a pack of TOML files; the built-in Linux pack
//! is embedded), each evaluated into one of four states with the evidence seen and the
//! reason. Everything a check reads comes through a [`Host`]: the agent's ([`SystemHost`])
//! reads the machine, the tests' ([`FixtureHost`]) reads a recorded fixture, so every check
//! is tested without changing the machine it runs on. A check decides by a declarative rule
//! or, for what no rule can say, by a built-in evaluator the pack names
//! (`rule = { builtin = "swap-encrypted" }`).
//!
//! What a result means is placed in two frameworks, CIS Controls v8.1 IG1 and Cyber
//! Essentials v3.3 ([`frameworks`]), with the questions only a person can answer
//! ([`manual`]) and the tallies a report is built from ([`score`]).
//!
//! The plan this crate starts is in docs/ARCHITECTURE.md ("Posture (issue 12)").

mod builtin;
mod combine;
mod eval;
pub mod frameworks;
mod host;
pub mod manual;
mod names;
mod pack;
pub mod score;
mod system;

pub use eval::{Outcome, State, evaluate};
pub use frameworks::{
    CIS_VERSION, CYBER_ESSENTIALS_QUESTION_SET, CYBER_ESSENTIALS_VERSION, Control, Coverage,
    Requirement, Safeguard, ServerCheck, Theme,
};
pub use host::{CommandOutput, FIXTURE_DEFAULT_NOW, FileStat, FixtureHost, Host, HostError};
pub use manual::ManualItem;
pub use pack::{Check, Decider, Expect, Pack, PackError, Rule, Section, Severity, Source, builtin};
pub use score::{Tally, Verdict, remediation_rank};
pub use system::SystemHost;
