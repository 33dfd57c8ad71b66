//! What the monitoring service refuses, and how each refusal maps to the surfaces.

use steward_store::StoreError;

use crate::service::{Denied, DomainError, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// A definition that cannot be stored or judged; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("this {0} is declared in the configuration file; change it there")]
    Declared(&'static str),
    #[error("only users who see every device may do this for {0}; ask an administrator")]
    OutsideScope(&'static str),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for MonitoringError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => MonitoringError::Conflict(m),
            other => MonitoringError::Store(other),
        }
    }
}

impl DomainError for MonitoringError {
    fn refusal(&self) -> Refusal {
        match self {
            MonitoringError::Invalid(_) => Refusal::Invalid,
            MonitoringError::NotFound(_) => Refusal::NotFound,
            MonitoringError::Conflict(_) | MonitoringError::Declared(_) => Refusal::Conflict,
            MonitoringError::OutsideScope(_) => Refusal::Forbidden,
            MonitoringError::Denied(d) => d.refusal(),
            MonitoringError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, MonitoringError>;

pub(crate) fn invalid(message: impl std::fmt::Display) -> MonitoringError {
    MonitoringError::Invalid(message.to_string())
}
