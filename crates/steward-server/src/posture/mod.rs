//! Security posture: each device's checks as its agent evaluated them, the server's own
//! checks (backups, restore drills, check-ins), the manual checklist items people answer,
//! and accepted exceptions — turned into the report (HTML, PDF, JSON, CSV) and into alerts.
//!
//! - [`ingest`]: an agent report's `posture` section into the store;
//! - [`service`]: the rules (who may answer and accept risks, audit) and the report's inputs;
//! - [`report`]: the report built from them (pure), and its renderings;
//! - [`alerts`]: the `posture` device check and overdue manual items, through monitoring's
//!   pipeline;
//! - [`catalog`]: the checks' metadata (the built-in pack and the server's own checks).

pub mod alerts;
mod answer_form;
mod api;
pub mod catalog;
pub(crate) mod console;
pub mod ingest;
pub mod report;
pub mod service;
pub mod summary;

pub use api::attachment_routes;

/// The API's and the console's posture routes (the attachment upload apart: its body limit
/// is its own).
pub fn routes() -> crate::web::routes::Routes {
    api::routes().merge(console::routes())
}
pub use report::Framework;
