//! Remote scripts: the script library (versioned; changed only by administrators after a
//! step-up), runs on a device, a group or a tag (by role and group scope, each run audited
//! with the content's SHA-256), and the installation's signing key, whose public half every
//! agent pins at enrollment. Whether a device runs a script at all is its own decision
//! (`allow_scripts` in the agent's config file on the device); the agent also verifies
//! every order's signature, so a row written into the database by someone else runs
//! nowhere.
//!
//! - [`service`]: the library and runs (rules, audit);
//! - [`signing`]: the key, made on first use and sealed in the settings;
//! - `api`, `console`: thin adapters over the service.

mod api;
pub(crate) mod console;
pub mod service;
pub mod signing;

/// The scripts routes (API and console), with a body limit that fits a script's largest
/// content (256 KiB) and the form around it.
pub fn routes() -> crate::web::routes::Routes {
    let limit = 2 * steward_core::scripts::MAX_CONTENT_BYTES;
    api::routes().merge(console::routes()).map_routers(
        |api| crate::net::body_limit::limit_documented(api, limit),
        |pages| crate::net::body_limit::limit(pages, limit),
    )
}
