//! The posture report: built from the service's inputs ([`build`]), rendered as CSV
//! ([`csv`]); JSON is the model itself.

mod build;
pub mod csv;
mod frameworks;
pub mod html;
pub mod pdf;
#[cfg(test)]
mod tests;

pub use build::{
    Answered, CheckMeta, Device, ExceptionRow, Framework, Inputs, Stored, build, exception_rule,
    score,
};
