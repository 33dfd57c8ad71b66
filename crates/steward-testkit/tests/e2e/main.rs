//! End-to-end: a real server on an ephemeral port, real agents over HTTP, a real database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod agent_probes;
mod agent_protocol;
mod api;
mod backup_clients;
mod backup_endpoint;
mod backup_policies;
mod backup_retention;
mod backup_scheduler;
mod console;
mod console_backup_policies;
mod console_backups;
mod console_backups_access;
mod console_monitoring;
mod console_text;
mod device_checks;
mod edge;
mod first_sign_in;
mod fleet;
mod history;
mod hostile;
mod job_expiry;
mod job_lifecycle;
mod lockout;
mod metrics;
mod monitoring;
mod posture;
mod privileges;
mod rotation;
mod scheduler;
mod support;
mod tls;
mod two_factor;
mod users;
